# Red team 23: writes cases.json (PyTorch 1.13 float64 autograd on the call's inputs; mpmath where noted).
# Run: /usr/bin/python3 tests/redteam23/generate.py
import json, math, os
import numpy as np
import torch
import torch.nn.functional as F
torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(23)
cases = []

def enc(a):
    a = np.asarray(a, dtype=np.float64).ravel()
    return [('Infinity' if v > 0 else '-Infinity') if np.isinf(v) else ('NaN' if np.isnan(v) else float(v)) for v in a]

LAST_GO = [None]
def goarr(L, go):
    """The upstream gradient: go for a scalar loss, go times a fixed pattern for 'none'."""
    if L.dim() == 0: return torch.tensor(float(go))
    pat = torch.tensor([1.0, -0.5, 2.0, 0.25, -3.0, 1.5, 0.0])
    LAST_GO[0] = (go * pat.repeat(L.numel() // 7 + 1)[:L.numel()]).reshape(L.shape)
    return LAST_GO[0]

def goenc(go, reduction):
    return go if reduction != 'none' else enc(LAST_GO[0].numpy())

def r32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)

def add(name, op, dtype, spec, want):
    cases.append({'name': name, 'op': op, 'dtype': dtype, 'spec': spec, 'want': {k: enc(v) for k, v in want.items()}})

# ---------------- CTC ----------------
import mpmath
mpmath.mp.dps = 40

def ctc_fb(lp, tg, b, S, Tb, blank):
    """The exact forward-backward of element b: extended labels, emissions, alpha, beta and p."""
    ext = [blank]
    for j in range(S): ext += [int(tg[b][j]), blank]
    L = len(ext)
    y = [[mpmath.exp(mpmath.mpf(float(lp[t, b, ext[s]]))) if np.isfinite(lp[t, b, ext[s]]) else mpmath.mpf(0) for s in range(L)] for t in range(Tb)]
    skip = [s >= 2 and ext[s] != blank and ext[s] != ext[s - 2] for s in range(L)]
    al = [[mpmath.mpf(0)] * L for _ in range(Tb)]
    al[0][0] = y[0][0]
    if L > 1: al[0][1] = y[0][1]
    for t in range(1, Tb):
        for s in range(L):
            al[t][s] = (al[t - 1][s] + (al[t - 1][s - 1] if s >= 1 else 0) + (al[t - 1][s - 2] if skip[s] else 0)) * y[t][s]
    be = [[mpmath.mpf(0)] * L for _ in range(Tb)]
    be[Tb - 1][L - 1] = y[Tb - 1][L - 1]
    if L > 1: be[Tb - 1][L - 2] = y[Tb - 1][L - 2]
    for t in range(Tb - 2, -1, -1):
        for s in range(L):
            be[t][s] = (be[t + 1][s] + (be[t + 1][s + 1] if s + 1 < L else 0) + (be[t + 1][s + 2] if s + 2 < L and skip[s + 2] else 0)) * y[t][s]
    p = al[Tb - 1][L - 1] + (al[Tb - 1][L - 2] if L > 1 else 0)
    return ext, y, al, be, p

def ctc_mp(lp, tg, tl, il, blank, reduction, zero_inf, g):
    """40-digit mpmath forward-backward on the probabilities; returns (loss, grad) with PyTorch's
    folded gradient exp(lp) - sum of posteriors, scaled as reduction says."""
    T, N, C = lp.shape
    runs = [ctc_fb(lp, tg, b, tl[b], il[b], blank) for b in range(N)]
    losses = [-mpmath.log(r[4]) if r[4] > 0 else mpmath.inf for r in runs]
    out_grad = np.zeros((T, N, C))
    for b in range(N):
        S = tl[b]; Tb = il[b]; nll = losses[b]
        if reduction == 'none': gb = float(g[b])
        elif reduction == 'sum': gb = float(g)
        else: gb = float(g) / N / max(S, 1)
        if nll == mpmath.inf:
            if zero_inf: continue
            out_grad[:Tb, b, :] = np.nan; continue
        ext, y, al, be, _ = runs[b]
        p = mpmath.exp(-nll)
        for t in range(Tb):
            acc = [mpmath.mpf(0)] * C
            for s in range(len(ext)):
                if y[t][s] != 0: acc[ext[s]] += al[t][s] * be[t][s] / (y[t][s] * p)
            for c in range(C):
                e = mpmath.exp(mpmath.mpf(float(lp[t, b, c]))) if np.isfinite(lp[t, b, c]) else None
                out_grad[t, b, c] = float((e - acc[c]) * gb) if e is not None else np.nan
    fl = [0.0 if (v == mpmath.inf and zero_inf) else float(v) for v in losses]
    if reduction == 'none': L = np.array(fl)
    elif reduction == 'sum': L = np.array(sum(mpmath.mpf(v) for v in fl))
    else: L = np.array(float(sum(mpmath.mpf(v) / max(tl[b], 1) for b, v in enumerate(fl)) / N))
    return L, out_grad

def ctc(name, dtype, T, N, C, tlist, ilens, reduction='mean', zero_inf=False, blank=0, go=1.0, lp=None, scale=2.0, padded=True):
    if lp is None:
        x = torch.tensor(rng.normal(size=(T, N, C)) * scale)
        lp = F.log_softmax(x, 2).numpy()
    if dtype == 'f32': lp = r32(lp)
    S = max([len(t) for t in tlist] + [1])
    tg = np.zeros((N, S), dtype=np.int64)
    for i, t in enumerate(tlist): tg[i, :len(t)] = t
    lpt = torch.tensor(lp, requires_grad=True)
    loss = F.ctc_loss(lpt, torch.tensor(tg), torch.tensor(ilens), torch.tensor([len(t) for t in tlist]), blank=blank, reduction=reduction, zero_infinity=zero_inf)
    g = goarr(loss, go)
    loss.backward(g)
    want = {'loss': loss.detach().numpy(), 'grad': lpt.grad.numpy()}
    if MP:
        ml, mg = ctc_mp(lp, tg, [len(t) for t in tlist], list(ilens), blank, reduction, zero_inf, g.numpy() if reduction == 'none' else go)
        want['mpLoss'] = ml; want['mpGrad'] = mg
    add(name, 'ctc', dtype, {'shape': [T, N, C], 'lp': enc(lp), 'targets': tg.ravel().tolist(), 'S': S, 'tlens': [len(t) for t in tlist],
        'ilens': list(ilens), 'options': {'reduction': reduction, 'zeroInfinity': zero_inf, 'blank': blank, 'gradOutput': goenc(go, reduction)}},
        want)

MP = os.environ.get('RT23_NO_MP') is None
def rl(n, C, blank=0, rep=False):
    labs = [c for c in range(C) if c != blank]
    out = list(rng.choice(labs, size=n))
    if rep and n >= 2: out[1] = out[0]
    return [int(v) for v in out]

for dt in ['f64', 'f32']:
    ctc(f'ctc {dt} basic mean', dt, 30, 3, 6, [rl(5, 6, rep=True), rl(0, 6), rl(12, 6)], [30, 25, 30])
    ctc(f'ctc {dt} sum go 16', dt, 30, 3, 6, [rl(5, 6, rep=True), rl(3, 6), rl(12, 6)], [30, 25, 30], reduction='sum', go=16.0)
    ctc(f'ctc {dt} none go 1e3', dt, 30, 3, 6, [rl(5, 6, rep=True), rl(3, 6), rl(12, 6)], [30, 25, 30], reduction='none', go=1e3)
    ctc(f'ctc {dt} blank last mean', dt, 20, 2, 5, [rl(4, 5, blank=4), rl(7, 5, blank=4, rep=True)], [20, 17], blank=4)
    ctc(f'ctc {dt} zeroInfinity mean', dt, 10, 3, 4, [[1, 1, 1, 1, 1, 1], rl(3, 4), [2, 2, 2]], [10, 10, 5], zero_inf=True)
    ctc(f'ctc {dt} exactly feasible', dt, 9, 2, 4, [[1, 1, 2, 2, 3], [1, 2, 3, 1, 2, 3, 1, 2, 3]], [9, 9], reduction='none')
    ctc(f'ctc {dt} long T 1500 S 300', dt, 1500, 1, 5, [rl(300, 5, rep=True)], [1500], reduction='sum', scale=3.0)
    ctc(f'ctc {dt} peaked', dt, 40, 2, 5, [rl(6, 5), rl(10, 5)], [40, 33], scale=12.0)
# -inf entries (blank never possible at frame 3, label never at frame 0)
lp = F.log_softmax(torch.tensor(rng.normal(size=(8, 1, 4))), 2).numpy()
lp[3, 0, 0] = -np.inf; lp[0, 0, 2] = -np.inf
ctc('ctc f64 -inf entries', 'f64', 8, 1, 4, [[1, 2, 3]], [8], lp=lp, reduction='sum')
# very unlikely alignment: log-probs near -700 everywhere
lp = np.full((60, 1, 3), -700.0); lp[:, 0, 0] = 0.0
ctc('ctc f64 tiny label probs', 'f64', 60, 1, 3, [[1, 2, 1, 2]], [60], lp=lp, reduction='sum')

# ---------------- focal (formula, torch autograd) ----------------
def focal(name, dtype, x, t, gamma, weight=None, ignore=-100, reduction='mean', go=1.0):
    if dtype == 'f32': x = r32(x)
    C = x.shape[1]
    xt = torch.tensor(x, requires_grad=True)
    lp = F.log_softmax(xt, 1)
    tt = torch.tensor(t)
    mask = tt != ignore
    tc = torch.where(mask, tt, torch.zeros_like(tt))
    lpt = lp.gather(1, tc[:, None]).squeeze(1)
    w = torch.ones(C) if weight is None else torch.tensor(weight)
    wt = w[tc] * mask
    l = -wt * (1 - lpt.exp()) ** gamma * lpt
    l = torch.where(mask, l, torch.zeros_like(l))
    L = l if reduction == 'none' else (l.sum() if reduction == 'sum' else l.sum() / wt.sum())
    L.backward(goarr(L, go))
    add(name, 'focal', dtype, {'shape': list(x.shape), 'input': enc(x), 'target': list(map(int, t)),
        'options': {'gamma': gamma, 'weight': None if weight is None else list(weight), 'ignoreIndex': ignore, 'reduction': reduction, 'gradOutput': goenc(go, reduction)}},
        {'loss': L.detach().numpy(), 'grad': xt.grad.numpy()})

x = rng.normal(size=(6, 5)) * 2
for g in [0.0, 0.5, 1.0, 2.0, 3.7]:
    for dt in ['f64', 'f32']:
        focal(f'focal {dt} gamma {g} weighted ignore mean', dt, x, [0, 4, -100, 2, 2, 1], g, weight=[1.0, 0.5, 2.0, 0.0, 3.0])
focal('focal f64 gamma 2 sum go 1e3', 'f64', x, [0, 4, 3, 2, 2, 1], 2.0, reduction='sum', go=1e3)
# near-confident (p_t close to 1 but not 1): 1 - exp(lpt) cancels in torch; compare anyway
xc = np.array([[12.0, 0.0, -1.0], [30.0, 0.0, 0.0], [5.0, 4.0, 0.0]])
focal('focal f64 confident gamma 2 none', 'f64', xc, [0, 0, 0], 2.0, reduction='none')

# ---------------- sigmoid focal (torchvision 0.14 formula) ----------------
def sfocal(name, dtype, x, y, alpha, gamma, reduction='none', go=1.0):
    if dtype == 'f32': x = r32(x); y = r32(y)
    xt = torch.tensor(x, requires_grad=True); yt = torch.tensor(y)
    p = torch.sigmoid(xt)
    ce = F.binary_cross_entropy_with_logits(xt, yt, reduction='none')
    p_t = p * yt + (1 - p) * (1 - yt)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * yt + (1 - alpha) * (1 - yt)) * loss
    L = loss if reduction == 'none' else (loss.mean() if reduction == 'mean' else loss.sum())
    L.backward(goarr(L, go))
    add(name, 'sfocal', dtype, {'shape': list(x.shape), 'input': enc(x), 'target': enc(y),
        'options': {'alpha': alpha, 'gamma': gamma, 'reduction': reduction, 'gradOutput': goenc(go, reduction)}}, {'loss': L.detach().numpy(), 'grad': xt.grad.numpy()})

xs = rng.normal(size=(4, 5)) * 3
ys = (rng.random(size=(4, 5)) < 0.4).astype(np.float64)
ys_soft = np.round(rng.random(size=(4, 5)), 2)
for a in [0.25, 0.0, 1.0, -1.0, -0.5]:
    for g in [0.0, 0.5, 2.0]:
        sfocal(f'sfocal f64 alpha {a} gamma {g}', 'f64', xs, ys, a, g, reduction='mean')
sfocal('sfocal f64 soft targets', 'f64', xs, ys_soft, 0.25, 2.0, reduction='sum', go=16.0)
sfocal('sfocal f32 soft targets go 1e3', 'f32', xs, ys_soft, 0.25, 1.5, reduction='none', go=1e3)

# ---------------- BCE on probabilities: 0/1 inputs, -100 clamp, weights broadcast ----------------
def bce(name, dtype, p, y, weight=None, wshape=None, reduction='mean', go=1.0):
    if dtype == 'f32': p = r32(p); y = r32(y)
    pt = torch.tensor(p, requires_grad=True)
    w = None if weight is None else torch.tensor(np.asarray(weight, dtype=np.float64).reshape(wshape))
    L = F.binary_cross_entropy(pt, torch.tensor(y), weight=None if w is None else w.expand(pt.shape), reduction=reduction)
    L.backward(goarr(L, go))
    add(name, 'bce', dtype, {'shape': list(p.shape), 'input': enc(p), 'target': enc(y),
        'options': {'weight': None if weight is None else {'data': list(map(float, np.ravel(weight))), 'shape': list(wshape)}, 'reduction': reduction, 'gradOutput': goenc(go, reduction)}},
        {'loss': L.detach().numpy(), 'grad': pt.grad.numpy()})

pb = np.array([[0.0, 1.0, 0.0, 1.0, 1e-50, 1 - 2**-53, 0.5, 1e-300], [1.0, 0.0, 3e-44, 1e-12, 0.999999, 0.0, 1.0, 0.25]])
yb = np.array([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.3, 1.0], [0.0, 1.0, 1.0, 1.0, 0.0, 0.5, 0.5, 0.7]])
for dt in ['f64', 'f32']:
    bce(f'bce {dt} edges none', dt, pb, yb, reduction='none')
    bce(f'bce {dt} edges weight [N,1] sum', dt, pb, yb, weight=[2.0, -0.5], wshape=[2, 1], reduction='sum', go=16.0)
    bce(f'bce {dt} edges weight [C] mean', dt, pb, yb, weight=np.linspace(0, 2, 8), wshape=[8], reduction='mean')

# ---------------- nllLoss K-dim ----------------
def nll(name, dtype, x, t, weight=None, ignore=-100, reduction='mean', go=1.0):
    if dtype == 'f32': x = r32(x)
    xt = torch.tensor(x, requires_grad=True)
    L = F.nll_loss(xt, torch.tensor(t), weight=None if weight is None else torch.tensor(weight), ignore_index=ignore, reduction=reduction)
    L.backward(goarr(L, go))
    add(name, 'nll', dtype, {'shape': list(x.shape), 'input': enc(x), 'target': np.ravel(t).tolist(), 'tshape': list(np.shape(t)),
        'options': {'weight': None if weight is None else list(weight), 'ignoreIndex': ignore, 'reduction': reduction, 'gradOutput': goenc(go, reduction)}},
        {'loss': L.detach().numpy(), 'grad': xt.grad.numpy()})

xn = F.log_softmax(torch.tensor(rng.normal(size=(2, 4, 3, 5))), 1).numpy()
tn = rng.integers(0, 4, size=(2, 3, 5)); tn[0, 1, 2] = 2; tn[1, 2, 4] = 2; tn[0, 0, 0] = -100
for dt in ['f64', 'f32']:
    nll(f'nll {dt} 4d weighted mean ignore 2', dt, xn, tn.clip(0), weight=[0.5, 2.0, 1.0, 3.0], ignore=2)
    nll(f'nll {dt} 4d weighted mean ignore -100', dt, xn, tn, weight=[0.5, 2.0, 1.0, 3.0])
    nll(f'nll {dt} 4d none go 1e3', dt, xn, tn, weight=[0.5, -2.0, 1.0, 0.0], reduction='none', go=1e3)
    nll(f'nll {dt} 4d sum', dt, xn, tn, reduction='sum', go=-16.0)

# ---------------- softmax / logSoftmax backward with non-finite ----------------
def smb(name, dtype, go, out, log, dim=-1):
    if dtype == 'f32': go = r32(go); out = r32(out)
    g = torch.tensor(go); o = torch.tensor(out)
    if log: r = torch._log_softmax_backward_data(g, o, dim, torch.float64)
    else: r = torch._softmax_backward_data(g, o, dim, torch.float64)
    add(name, 'smb', dtype, {'shape': list(go.shape), 'go': enc(go), 'out': enc(out), 'log': log, 'dim': dim}, {'grad': r.numpy()})

sm = F.softmax(torch.tensor([[0.0, 1.0, -np.inf, 2.0, 0.5], [3.0, 3.0, 3.0, 3.0, 3.0], [800.0, 0, 0, 0, 0]]), 1).numpy()
goA = np.array([[1.0, np.inf, 2.0, -1.0, 0.0], [1.0, 2.0, np.nan, 0.0, 0.0], [1e308, 1e308, 0, 0, -1e308]])
goB = np.array([[1.0, 2.0, 1e300, -1.0, 0.0], [1.0, 2.0, 3.0, 4.0, 5.0], [np.inf, 0, 0, 0, 0]])
for dt in ['f64']:
    smb(f'softmaxBackward {dt} A', dt, goA, sm, False)
    smb(f'softmaxBackward {dt} B', dt, goB, sm, False)
    lsm = np.log(sm)
    smb(f'logSoftmaxBackward {dt} A', dt, goA, lsm, True)
    smb(f'logSoftmaxBackward {dt} B', dt, goB, lsm, True)

# ---------------- linearCrossEntropy: ignore_index, weights, 'none', bias, chunks ----------------
def det(n, k):
    # deterministic inputs run.ts rebuilds exactly: multiples of 1/512 in [-2, 2)
    i = np.arange(n, dtype=np.int64)
    return (((i * 7919 + k * 104729) % 2048) - 1024) / 512.0

def lce(name, dtype, N, D, C, weight=None, ignore=-100, eps=0.0, reduction='mean', go=1.0, bias=True, tgt=None, rows=None, scale=1.0, detw=False):
    x = rng.normal(size=(N, D)); W = rng.normal(size=(C, D)) * scale; b = rng.normal(size=C) if bias else None
    if detw:
        W = det(C * D, 1).reshape(C, D); b = det(C, 2) if bias else None
    if dtype == 'f32':
        x = r32(x); W = r32(W); b = None if b is None else r32(b)
    t = rng.integers(0, C, size=N) if tgt is None else np.array(tgt)
    xt = torch.tensor(x, requires_grad=True); Wt = torch.tensor(W, requires_grad=True); bt = None if b is None else torch.tensor(b, requires_grad=True)
    logits = xt @ Wt.T + (bt if bt is not None else 0)
    L = F.cross_entropy(logits, torch.tensor(t), weight=None if weight is None else torch.tensor(weight), ignore_index=ignore, label_smoothing=eps, reduction=reduction)
    L.backward(goarr(L, go))
    rows = list(range(C)) if rows is None else [int(r) for r in rows]
    want = {'loss': L.detach().numpy(), 'gradInput': xt.grad.numpy(), 'gradWeightRows': Wt.grad.numpy()[rows]}
    if bt is not None: want['gradBias'] = bt.grad.numpy()
    ld = np.longdouble
    lg = x.astype(ld) @ W.astype(ld).T + (b.astype(ld) if b is not None else ld(0))
    if detw and weight is None and reduction == 'mean' and eps > 0:
        # float80 reference (cross_entropy with label smoothing, mean over non-ignored)
        m = lg.max(1, keepdims=True); e = np.exp(lg - m); S = e.sum(1, keepdims=True); P = e / S
        mask = np.array([tt != ignore for tt in t]); n = mask.sum()
        Y = np.zeros_like(P)
        for i, tt in enumerate(t):
            if tt != ignore: Y[i, tt] = 1
        Y = (1 - eps) * Y + eps / C
        G = (P - Y) * mask[:, None] / n * go
        want['refGradInput'] = (G @ W.astype(ld)).astype(np.float64)
    add(name, 'lce', dtype, {'N': N, 'D': D, 'C': C, 'input': enc(x), 'W': None if detw else enc(W), 'b': None if (b is None or detw) else enc(b), 'detw': detw, 'bias': bias, 'target': t.tolist(), 'rows': rows,
        'options': {'weight': None if weight is None else list(weight), 'ignoreIndex': ignore, 'labelSmoothing': eps, 'reduction': reduction, 'gradOutput': goenc(go, reduction)}}, want)

for dt in ['f64', 'f32']:
    w7 = [1.0, 0.0, 2.0, 0.5, -1.0, 3.0, 1.0]
    tg = [0, 1, 2, 3, 4, 5, 6, -100, 1, 3, 5]
    lce(f'lce {dt} weights ignore -100 mean', dt, 11, 5, 7, weight=w7, tgt=tg)
    lce(f'lce {dt} weights ignore 3 eps mean', dt, 11, 5, 7, weight=w7, ignore=3, eps=0.1, tgt=[0, 1, 2, 3, 4, 5, 6, 3, 1, 3, 5])
    lce(f'lce {dt} none go 16 eps', dt, 11, 5, 7, weight=w7, eps=0.2, reduction='none', go=16.0, tgt=tg)
    lce(f'lce {dt} sum go 1e3 no bias', dt, 11, 5, 7, reduction='sum', go=1e3, bias=False, tgt=tg)
    lce(f'lce {dt} all ignored mean', dt, 4, 3, 5, tgt=[-100, -100, -100, -100])
    lce(f'lce {dt} zero total weight mean', dt, 4, 3, 5, weight=[0.0, 0.0, 1.0, 1.0, 1.0], tgt=[0, 1, 0, 1])
# chunked: f64 C = 70000 gives 24 tokens a chunk; f32 C = 70000 gives 56
tg = list(rng.integers(0, 70000, size=37)); tg[5] = -100; tg[24] = -100; tg[23] = 7
lce('lce f64 chunked ignore eps mean', 'f64', 37, 3, 70000, eps=0.1, detw=True, tgt=tg, rows=sorted(set([t for t in tg if t >= 0] + [0, 1, 69999])))
tg = list(rng.integers(0, 70000, size=70)); tg[55] = -100; tg[56] = 11
lce('lce f32 chunked ignore mean', 'f32', 70, 3, 70000, eps=0.05, detw=True, tgt=tg, rows=sorted(set([t for t in tg if t >= 0] + [0, 1, 69999])))

# ---------------- focalLoss confident rows against mpmath ----------------
def focal_mp(x, t, g):
    mpmath.mp.dps = 50
    losses, grads = [], []
    for row, tt in zip(x, t):
        xr = [mpmath.mpf(float(v)) for v in row]
        S = sum(mpmath.exp(v) for v in xr); lpt = xr[tt] - mpmath.log(S); pt = mpmath.exp(lpt)
        losses.append(float(-(1 - pt) ** g * lpt))
        dl = g * (1 - pt) ** (g - 1) * pt * lpt - (1 - pt) ** g
        grads += [float(dl * ((1 if j == tt else 0) - mpmath.exp(xr[j]) / S)) for j in range(len(xr))]
    mpmath.mp.dps = 40
    return np.array(losses), np.array(grads)
xc2 = np.array([[30.0, 0.0, 0.0], [12.0, 0.0, -1.0], [20.0, 3.0, 1.0]])
focal('focal f64 confident mp', 'f64', xc2, [0, 0, 0], 2.0, reduction='none')
ml, mg = focal_mp(xc2, [0, 0, 0], 2.0)
go_pat = np.array([1.0, -0.5, 2.0])
cases[-1]['want']['mpLoss'] = enc(ml); cases[-1]['want']['mpGrad'] = enc(mg * np.repeat(go_pat, 3))

# ---------------- BCE with logits: posWeight / weight broadcast, extreme logits ----------------
def bcel(name, dtype, x, y, pw=None, pws=None, w=None, ws=None, reduction='mean', go=1.0):
    if dtype == 'f32': x = r32(x); y = r32(y)
    xt = torch.tensor(x, requires_grad=True)
    pwt = None if pw is None else torch.tensor(np.asarray(pw, dtype=np.float64).reshape(pws))
    wt = None if w is None else torch.tensor(np.asarray(w, dtype=np.float64).reshape(ws))
    L = F.binary_cross_entropy_with_logits(xt, torch.tensor(y), weight=wt, pos_weight=pwt, reduction=reduction)
    L.backward(goarr(L, go))
    add(name, 'bcel', dtype, {'shape': list(x.shape), 'input': enc(x), 'target': enc(y),
        'options': {'posWeight': None if pw is None else {'data': list(map(float, np.ravel(pw))), 'shape': list(pws)},
                    'weight': None if w is None else {'data': list(map(float, np.ravel(w))), 'shape': list(ws)}, 'reduction': reduction, 'gradOutput': goenc(go, reduction)}},
        {'loss': L.detach().numpy(), 'grad': xt.grad.numpy()})
xb = np.array([[100.0, -100.0, 800.0, -800.0, 0.0, 37.0], [-37.0, 1e-20, 5.0, -5.0, 1e3, -1e3]])
yb2 = np.array([[1.0, 0.0, 0.0, 1.0, 0.5, 0.25], [1.0, 0.0, 1.0, 0.0, 0.3, 0.9]])
for dt in ['f64', 'f32']:
    bcel(f'bcel {dt} extreme posWeight [C]', dt, xb, yb2, pw=[3.0, 0.0, 2.0, 0.5, 1.0, 4.0], pws=[6], reduction='none', go=16.0)
    bcel(f'bcel {dt} extreme posWeight [N,1] weight [C] sum', dt, xb, yb2, pw=[3.0, 0.25], pws=[2, 1], w=np.linspace(-1, 2, 6), ws=[6], reduction='sum', go=1e3)
    bcel(f'bcel {dt} extreme mean', dt, xb, yb2, reduction='mean')

json.dump({'cases': cases}, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cases.json'), 'w'))
print(len(cases), 'cases')
