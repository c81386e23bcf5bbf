# Red team 22 (generator adapted from red team 21's): writes tests/redteam22/cases.json from PyTorch 1.13 (float64 autograd, and float32
# autograd for f32 cases) and mpmath (tokenScores entropies). Run: /usr/bin/python3 generate.py
import json, math, os
import numpy as np
import torch
import torch.nn.functional as F
import mpmath
mpmath.mp.dps = 60
torch.set_num_threads(1)
rng = np.random.default_rng(22)
inf, nan = math.inf, math.nan
CASES = []

def enc(v):
    v = float(v)
    if math.isnan(v): return 'NaN'
    if math.isinf(v): return 'Infinity' if v > 0 else '-Infinity'
    return v
def encl(a): return [enc(v) for v in np.asarray(a, dtype=np.float64).ravel()]
def f32(a): return np.asarray(a, dtype=np.float32).astype(np.float64)
def tt(a, dt): return torch.tensor(np.asarray(a, dtype=np.float64), dtype=dt)

def rowscale(g, dim):
    """per element: the largest |finite| gradient of its position (over the class dim)"""
    a = g.abs().nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)
    return a.amax(dim=dim, keepdim=True).expand_as(g)

# ---------------------------------------------------------------- crossEntropy + zLoss
def ce_run(x, shape, target, dt, w, ii, eps, red, zl, go, probs):
    X = tt(x, dt).reshape(shape).requires_grad_(True)
    W = tt(w, dt) if w is not None else None
    if probs is not None:
        T = tt(probs, dt).reshape(shape)
        ce = F.cross_entropy(X, T, weight=W, reduction='none', label_smoothing=eps)
        keep = torch.ones_like(ce, dtype=torch.bool)
    else:
        T = torch.tensor(target, dtype=torch.long).reshape([shape[0]] + list(shape[2:]))
        ce = F.cross_entropy(X, T, weight=W, ignore_index=ii, reduction='none', label_smoothing=eps)
        keep = T != ii
    lse = torch.logsumexp(X, 1)
    # the z term in the README's order, (g zLoss)(2 lse): pow's backward is g * (2 lse); no term at zLoss 0
    z = torch.where(keep, zl * lse.pow(2), torch.zeros_like(lse)) if zl else torch.zeros_like(lse)
    if red == 'none':
        loss = ce + z
        g = tt(go, dt).reshape(loss.shape)
    elif red == 'sum':
        loss = ce.sum() + z.sum()
        g = torch.tensor(go, dtype=dt)
    else:
        if probs is not None:
            cem = F.cross_entropy(X, T, weight=W, reduction='mean', label_smoothing=eps)
        else:
            cem = F.cross_entropy(X, T, weight=W, ignore_index=ii, reduction='mean', label_smoothing=eps)
        loss = cem + z.sum() / keep.sum()
        g = torch.tensor(go, dtype=dt)
    gr, = torch.autograd.grad(loss, X, g)
    return dict(grad=gr, lse=lse.detach())

def ce(name, x, shape, target, w=None, ii=-100, eps=0.0, red='sum', zl=1.0, go=1.0, probs=None, dtypes=('f32', 'f64')):
    for d in dtypes:
        xi = f32(x) if d == 'f32' else np.asarray(x, dtype=np.float64)
        wi = (f32(w) if d == 'f32' else np.asarray(w, np.float64)) if w is not None else None
        gi = f32(go) if d == 'f32' else np.asarray(go, np.float64)
        pi = (f32(probs) if d == 'f32' else np.asarray(probs, np.float64)) if probs is not None else None
        r64 = ce_run(xi, shape, target, torch.float64, wi, ii, eps, red, zl, gi if red == 'none' else float(gi), pi)
        c = dict(name=name, op='ce', dtype=d, spec=dict(input=encl(xi), shape=shape, target=target, probs=encl(pi) if pi is not None else None,
                 options=dict(weight=encl(wi) if wi is not None else None, ignoreIndex=ii, labelSmoothing=eps, reduction=red, zLoss=zl,
                              gradOutput=encl(gi) if red == 'none' else enc(gi), returnLse=True)),
                 t64=dict(grad=encl(r64['grad']), lse=encl(r64['lse'])), scale=dict(grad=encl(rowscale(r64['grad'], 1))))
        if d == 'f32':
            r32 = ce_run(xi, shape, target, torch.float32, wi, ii, eps, red, zl, gi if red == 'none' else float(gi), pi)
            c['t32'] = dict(grad=encl(r32['grad']), lse=encl(r32['lse']))
        CASES.append(c)

BIG = {'f32': [1e38, 2e38, 3e38, 3.4e38], 'f64': [1e307, 5e307, 1e308, 1.79e308]}
def logits(n, C, s=1.0): return list(rng.standard_normal(n * C) * s)

# ---------------------------------------------------------------- klDiv
def kl(name, x, t, shape, red, logTarget=False, go=None, dtypes=('f32', 'f64')):
    for d in dtypes:
        xi = f32(x) if d == 'f32' else np.asarray(x, np.float64)
        ti = f32(t) if d == 'f32' else np.asarray(t, np.float64)
        out = {}
        for dt in ((torch.float64, torch.float32) if d == 'f32' else (torch.float64,)):
            X = tt(xi, dt).reshape(shape).requires_grad_(True)
            T = tt(ti, dt).reshape(shape)
            L = F.kl_div(X, T, reduction=red, log_target=logTarget)
            g = torch.ones_like(L) if go is None else (tt(go, dt).reshape(L.shape) if red == 'none' else torch.tensor(go, dtype=dt))
            gr, = torch.autograd.grad(L, X, g)
            out[dt] = dict(loss=encl(L.detach()) if red == 'none' else enc(L.item()), grad=encl(gr))
        tl = np.abs(np.where(ti > 0, ti * np.log(np.where(ti > 0, ti, 1.0)), 0.0)); tx = np.abs(ti * xi)
        sc = np.nan_to_num(np.maximum(tl, tx), nan=0.0, posinf=0.0)
        c = dict(name=name, op='kl', dtype=d, spec=dict(input=encl(xi), target=encl(ti), shape=shape,
                 options=dict(reduction=red, logTarget=logTarget, gradOutput=None if go is None else (encl(go) if red == 'none' else go))),
                 t64=out[torch.float64], scale=dict(loss=encl(sc) if red == 'none' else enc(float(sc.sum()) if red == 'sum' else float(sc.sum()) / (sc.size if red == 'mean' else shape[0]))))
        if d == 'f32': c['t32'] = out[torch.float32]
        CASES.append(c)

# ---------------------------------------------------------------- linearCrossEntropy
def lce(name, x, W, b, target, N, D, C, weight=None, ii=-100, eps=0.0, red='mean', cap=None, zl=0.0, go=None, probs=None, dtypes=('f32', 'f64')):
    for d in dtypes:
        cv = (lambda a: f32(a)) if d == 'f32' else (lambda a: np.asarray(a, np.float64))
        out = {}
        for dt in ((torch.float64, torch.float32) if d == 'f32' else (torch.float64,)):
            Xt = tt(cv(x), dt).reshape(N, D).requires_grad_(True)
            Wt = tt(cv(W), dt).reshape(C, D).requires_grad_(True)
            bt = tt(cv(b), dt).requires_grad_(True) if b is not None else None
            z = F.linear(Xt, Wt, bt)
            if cap: z = cap * torch.tanh(z / cap)
            wt = tt(cv(weight), dt) if weight is not None else None
            if probs is not None:
                T = tt(cv(probs), dt).reshape(N, C); keep = torch.ones(N, dtype=torch.bool)
                L = F.cross_entropy(z, T, weight=wt, reduction=red, label_smoothing=eps)
            else:
                T = torch.tensor(target); keep = T != ii
                L = F.cross_entropy(z, T, weight=wt, ignore_index=ii, reduction=red, label_smoothing=eps)
            lse = torch.logsumexp(z, 1)
            if zl:
                zz = torch.where(keep, zl * lse.pow(2), torch.zeros_like(lse))
                L = L + (zz if red == 'none' else zz.sum() if red == 'sum' else zz.sum() / keep.sum())
            g = torch.ones_like(L) if go is None else (tt(cv(go), dt) if red == 'none' else torch.tensor(float(cv(go)), dtype=dt))
            grads = torch.autograd.grad(L, [Xt, Wt] + ([bt] if bt is not None else []), g)
            o = dict(loss=encl(L.detach()) if red == 'none' else enc(L.item()), gradInput=encl(grads[0]), gradWeight=encl(grads[1]), lse=encl(lse.detach()))
            if bt is not None: o['gradBias'] = encl(grads[2])
            out[dt] = o
        c = dict(name=name, op='lce', dtype=d, spec=dict(input=encl(cv(x)), W=encl(cv(W)), b=encl(cv(b)) if b is not None else None, N=N, D=D, C=C,
                 target=target, probs=encl(cv(probs)) if probs is not None else None,
                 options=dict(weight=encl(cv(weight)) if weight is not None else None, ignoreIndex=ii, labelSmoothing=eps, reduction=red,
                              softcap=cap, zLoss=zl, gradOutput=None if go is None else (encl(cv(go)) if red == 'none' else enc(go)))),
                 t64=out[torch.float64])
        if d == 'f32': c['t32'] = out[torch.float32]
        CASES.append(c)

# ---------------------------------------------------------------- tokenScores (mpmath entropies)
def ent_exact(row):
    r = [mpmath.mpf(float(v)) for v in row]
    if any(mpmath.isnan(v) for v in r): return nan
    m = max(r)
    if mpmath.isinf(m): return nan
    e = [mpmath.exp(v - m) for v in r]
    S = mpmath.fsum(e)
    # log S as log1p of the exps other than the one max (60 digits cannot hold 1 + 1e-300)
    logS = mpmath.log1p(mpmath.fsum(e) - 1) if sum(1 for v in r if v == m) > 1 else mpmath.log1p(mpmath.fsum([ei for ei, v in zip(e, r) if v != m]))
    D = mpmath.fsum([ei * (v - m) for ei, v in zip(e, r) if ei != 0])
    return float(logS - D / S)

def ts(name, rows, dtypes=('f32', 'f64'), dim1=False):
    for d in dtypes:
        R = [list(f32(r) if d == 'f32' else np.asarray(r, np.float64)) for r in rows]
        C = len(R[0]); N = len(R)
        ent = [ent_exact(r) for r in R]
        X = torch.tensor(R, dtype=torch.float64)
        lse = torch.logsumexp(X, 1)
        lp = torch.log_softmax(X, 1)
        tg = [int(np.argmin(r)) if not any(math.isnan(v) for v in r) else 0 for r in R]
        lpt = [float(lp[i, t]) for i, t in enumerate(tg)]
        out = dict(entropy=encl(ent), lse=encl(lse), logProb=encl(lpt))
        if dim1:
            # [1, C, N]: the class dim not last
            x = np.array(R).T.reshape(1, C, N)
            spec = dict(input=encl(x), shape=[1, C, N], dim=1, target=tg, tshape=[1, N])
        else:
            spec = dict(input=encl(np.array(R)), shape=[N, C], dim=-1, target=tg, tshape=[N])
        CASES.append(dict(name=name + (' dim1' if dim1 else ''), op='ts', dtype=d, spec=spec, t64=out))


# ================================================================ red team 22 cases
# 1. crossEntropy exact-one positions (S rounds to 1: others far below, not only -inf) where the exps'
#    factor a may overflow: rows (C > 16), short rows [N, C <= 16] (SIMD column regrouping), NCHW.
FAR = {'f32': -20.0, 'f64': -40.0}
GO = {'f32': [1.0, 1e20, 3e38, 3.4e38, -3.4e38], 'f64': [1.0, 1e150, 1e308, 1.79e308, -1.79e308]}
for d in ('f32', 'f64'):
    fb = FAR[d]
    for C in (2, 3, 8, 16, 17, 33):
        for N in (1, 13):
            # row p: class j = p % C is 6, the others fb - k * 0.37 (exp rounds out of S), one row all -inf but j
            rows = []
            for p in range(N):
                r = [fb - 0.37 * k for k in range(C)]
                r[p % C] = 6.0
                if p % 4 == 3: r = [(-inf if c != p % C else 6.0) for c in range(C)]
                rows.append(r)
            xs = [v for r in rows for v in r]
            tg = [int((p + (p % 2)) % C) for p in range(N)]  # target j on even rows, another class on odd
            if N > 5: tg[5] = -100
            w = list(rng.uniform(0.3, 1.5, C)); w[0] = 0.0
            if C > 2: w[2] = -0.75
            for go in GO[d]:
                for (zl, eps) in ((1.0, 0.0), (0.0, 0.1), (1.0, 0.1)):
                    ce(f'ce exact-one [{N},{C}] zl {zl} eps {eps} sum go {go:g}', xs, [N, C], tg, eps=eps, zl=zl, red='sum', go=go, dtypes=(d,))
                ce(f'ce exact-one [{N},{C}] weights zl 1 eps 0.1 sum go {go:g}', xs, [N, C], tg, w=w, eps=0.1, zl=1.0, red='sum', go=go, dtypes=(d,))
                ce(f'ce exact-one [{N},{C}] zl 1 eps 0.1 mean go {go:g}', xs, [N, C], tg, eps=0.1, zl=1.0, red='mean', go=go, dtypes=(d,))
            gos = [GO[d][(p * 3) % 5] for p in range(N)]
            spec = [inf, -inf, nan, 0.0, -0.0]
            for k in range(min(N, 5)): gos[(k * 3 + 1) % N] = spec[k]
            ce(f'ce exact-one [{N},{C}] weights zl 1 eps 0.1 none go mixed specials', xs, [N, C], tg, w=w, eps=0.1, zl=1.0, red='none', go=gos, dtypes=(d,))
            ce(f'ce exact-one [{N},{C}] zl 0.5 none go mixed specials', xs, [N, C], tg, zl=0.5, red='none', go=gos, dtypes=(d,))
            # NCHW: [1, C, N] with the same positions
            x3 = list(np.array(xs).reshape(N, C).T.ravel())
            ce(f'ce exact-one cols [1,{C},{N}] weights zl 1 eps 0.1 none go mixed', x3, [1, C, N], tg, w=w, eps=0.1, zl=1.0, red='none', go=gos, dtypes=(d,))
            ce(f'ce exact-one cols [1,{C},{N}] zl 1 eps 0.1 sum go big', x3, [1, C, N], tg, eps=0.1, zl=1.0, red='sum', go=GO[d][3], dtypes=(d,))
# threshold sweep: the gap where S starts / stops rounding to 1
for d in ('f32', 'f64'):
    gaps = [15, 16, 16.5, 17, 17.5, 18, 20] if d == 'f32' else [35, 36, 36.5, 37, 37.5, 38, 40]
    N = len(gaps)
    for C in (3, 20):
        xs = []
        for g in gaps: xs += [2.0] + [2.0 - g] * (C - 1)
        for go in (1.0, GO[d][3]):
            ce(f'ce gap sweep [{N},{C}] zl 1 eps 0.1 sum go {go:g}', xs, [N, C], [1] * N, eps=0.1, zl=1.0, red='sum', go=go, dtypes=(d,))
            ce(f'ce gap sweep [{N},{C}] t0 zl 1e-3 eps 0.2 sum go {go:g}', xs, [N, C], [0] * N, eps=0.2, zl=1e-3, red='sum', go=go, dtypes=(d,))
# w_t = 0 and negative at the exact-one class
for d in ('f32', 'f64'):
    fb = FAR[d]
    for C in (3, 17):
        xs = [3.0] + [fb] * (C - 1) + [3.0] + [-inf] * (C - 1) + [fb] * (C - 1) + [3.0]
        for w0 in (0.0, -1.0):
            w = [w0] + [1.0] * (C - 1)
            for go in (1.0, GO[d][3]):
                ce(f'ce w_j {w0} [3,{C}] zl 1 eps 0.1 sum go {go:g}', xs, [3, C], [0, 1, C - 1], w=w, eps=0.1, zl=1.0, red='sum', go=go, dtypes=(d,))
                ce(f'ce w_j {w0} [3,{C}] zl 1 eps 0.1 mean go {go:g}', xs, [3, C], [0, 1, C - 1], w=w, eps=0.1, zl=1.0, red='mean', go=go, dtypes=(d,))

# 2. probability targets at an exact one (C = 1; others -inf / far below)
for d in ('f32', 'f64'):
    xs1 = [1.1875, 0.5, 1.5, -2.25, 7.0, 0.0]
    gos = [1.0, inf, nan, 0.0, -0.0, -3.5]
    for pv in (1.0, 0.5, 0.0):
        for eps in (0.0, 0.1):
            for w in (None, [2.0], [0.0], [-0.5]):
                ws = 'none' if w is None else str(w[0])
                ce(f'ce probs C=1 p {pv} eps {eps} w {ws} zl 1e-3 sum', xs1, [6, 1], None, w=w, eps=eps, zl=1e-3, red='sum', go=1.0, probs=[pv] * 6, dtypes=(d,))
                ce(f'ce probs C=1 p {pv} eps {eps} w {ws} zl 1e-3 mean', xs1, [6, 1], None, w=w, eps=eps, zl=1e-3, red='mean', go=1.0, probs=[pv] * 6, dtypes=(d,))
                ce(f'ce probs C=1 p {pv} eps {eps} w {ws} zl 1e-3 none specials', xs1, [6, 1], None, w=w, eps=eps, zl=1e-3, red='none', go=gos, probs=[pv] * 6, dtypes=(d,))
    fb = FAR[d]
    for C in (3, 17):
        N = 6
        xs = []
        for p in range(N):
            r = [(fb if p % 2 else -inf)] * C; r[p % C] = 1.5 + p; xs += r
        P = rng.uniform(0, 1, (N, C)); P /= P.sum(1, keepdims=True)
        w = list(rng.uniform(0.3, 1.5, C)); w[1] = 0.0; w[2] = -0.5
        for zl, eps in ((1e-3, 0.0), (1.0, 0.1), (0.0, 0.1)):
            ce(f'ce probs exact-one [{N},{C}] zl {zl} eps {eps} w none specials', xs, [N, C], None, w=w, eps=eps, zl=zl, red='none', go=gos, probs=list(P.ravel()), dtypes=(d,))
            ce(f'ce probs exact-one [{N},{C}] zl {zl} eps {eps} mean', xs, [N, C], None, eps=eps, zl=zl, red='mean', go=1.0, probs=list(P.ravel()), dtypes=(d,))
            ce(f'ce probs exact-one [{N},{C}] zl {zl} eps {eps} sum go big', xs, [N, C], None, eps=eps, zl=zl, red='sum', go=GO[d][3], probs=list(P.ravel()), dtypes=(d,))
            x3 = list(np.array(xs).reshape(N, C).T.ravel()); P3 = list(P.T.ravel())
            ce(f'ce probs exact-one cols [1,{C},{N}] zl {zl} eps {eps} w none', x3, [1, C, N], None, w=w, eps=eps, zl=zl, red='none', go=gos, probs=P3, dtypes=(d,))

# linearCrossEntropy with probability targets at an exact one
for zl, eps in ((1e-3, 0.0), (1e-2, 0.1), (1.0, 0.2)):
    for w in (None, [0.0], [-0.5], [2.0]):
        for red in ('sum', 'mean', 'none'):
            ws = 'none' if w is None else str(w[0])
            lce(f'lce probs C=1 zl {zl} eps {eps} w {ws} {red}', list(rng.standard_normal(15)), list(rng.standard_normal(3)), [0.25], None, 5, 3, 1, weight=w, zl=zl, eps=eps, red=red,
                probs=[1.0, 0.5, 0.0, 1.0, 0.25], go=[2.0, inf, 0.0, -0.0, nan] if red == 'none' else 1.5)
for C in (2, 5):
    N, D = 6, 3
    b = [-inf] * C; b[1] = 0.5
    P = rng.uniform(0, 1, (N, C)); P /= P.sum(1, keepdims=True)
    w = list(rng.uniform(0.5, 2, C)); w[1] = 0.0
    for zl, eps in ((1e-3, 0.1), (1.0, 0.0)):
        x = list(rng.standard_normal(N * D)); W = list(rng.standard_normal(C * D))
        lce(f'lce probs -inf bias C={C} zl {zl} eps {eps} w none', x, W, b, None, N, D, C, weight=w, zl=zl, eps=eps, red='none', probs=list(P.ravel()), go=[1.0, -2.0, inf, 0.0, nan, 3.0])
        lce(f'lce probs -inf bias C={C} zl {zl} eps {eps} softcap mean', x, W, b, None, N, D, C, zl=zl, eps=eps, red='mean', cap=2.5, probs=list(P.ravel()))
# many tokens over several chunks, probability targets, -inf bias except class 3 on some
N, D, C = 300, 4, 600
x = rng.standard_normal((N, D)) * 0.5
W = rng.standard_normal((C, D)) * 0.5
b = np.full(C, -inf); b[3] = 0.0; b[10:] = -1.0
P = np.zeros((N, C)); P[:, 3] = 0.5; P[:, 5] = 0.25; P[np.arange(N), rng.integers(10, C, N)] += 0.25
lce('lce probs many tokens chunks zl eps', list(x.ravel()), list(W.ravel()), list(b), None, N, D, C, zl=1e-3, eps=0.1, red='sum', probs=list(P.ravel()), dtypes=('f64',))
b2 = np.full(C, -inf); b2[3] = 0.0
lce('lce probs many tokens all exact-one zl eps', list(x.ravel()), list(W.ravel()), list(b2), None, N, D, C, zl=1e-2, eps=0.1, red='mean', probs=list(P.ravel()), dtypes=('f64', 'f32'))

# 3. tokenScores near the exp underflow threshold
t32 = [[0, -87.0, -87.5, -88.0, -90, -95, -100, -103, -104, -110],
       [0, 0, -87.5, -88.5, -95, -103.5, -104.5, -150, -inf, -inf],
       [0, -103.2, -103.6, -103.9, -104.3, -104.7, -105, -120, -200, -300],
       [0, -86.5, -86.7, -86.9, -87.1, -87.3, -87.5, -87.7, -87.9, -88.1],
       [5, -100, -100, -100, -100, -100, -100, -100, -100, -100],
       [0, -16.6, -103.98, -104, -50, -60, -70, -80, -90, -100]]
t64 = [[0, -700, -705, -708, -708.5, -709, -720, -740, -744, -745],
       [0, 0, -708.4, -709, -730, -744.4, -744.5, -745.2, -inf, -800],
       [0, -744.0, -744.2, -744.4, -744.6, -744.8, -745.0, -745.1, -746, -800],
       [0, -707, -707.5, -708, -708.2, -708.4, -708.6, -708.8, -709, -709.5],
       [5, -730, -730, -730, -730, -730, -730, -730, -730, -730],
       [0, -36.7, -744.4, -745, -400, -500, -600, -650, -700, -720]]
for dim1 in (False, True):
    ts('ts underflow band C=10', t32, dtypes=('f32',), dim1=dim1)
    ts('ts underflow band C=10', t64, dtypes=('f64',), dim1=dim1)
    ts('ts underflow band C=26', [r + [r[-1] - 1 - k for k in range(16)] for r in t32], dtypes=('f32',), dim1=dim1)
    ts('ts underflow band C=26', [r + [r[-1] - 1 - k for k in range(16)] for r in t64], dtypes=('f64',), dim1=dim1)
    ts('ts underflow band C=3', [[0, -88, -104], [0, -103.5, -103.9], [0, -87, -150], [0, -16, -103]], dtypes=('f32',), dim1=dim1)
    ts('ts underflow band C=3', [[0, -709, -745], [0, -744.2, -744.6], [0, -708, -800], [0, -36, -744]], dtypes=('f64',), dim1=dim1)

os.makedirs(os.path.dirname(os.path.abspath(__file__)), exist_ok=True)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cases.json'), 'w') as f:
    json.dump(CASES, f)
print(len(CASES), 'cases')
