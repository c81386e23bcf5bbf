# Red team 21: writes tests/redteam21/cases.json from PyTorch 1.13 (float64 autograd, and float32
# autograd for f32 cases) and mpmath (tokenScores entropies). Run: /usr/bin/python3 generate.py
import json, math, os
import numpy as np
import torch
import torch.nn.functional as F
import mpmath
mpmath.mp.dps = 60
torch.set_num_threads(1)
rng = np.random.default_rng(21)
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
    z = torch.where(keep, zl * lse * lse, torch.zeros_like(lse))
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

for d in ('f32', 'f64'):
    for gi, g in enumerate(BIG[d]):
        for sign in (1, -1):
            G = sign * g
            for C in (3, 5, 16, 17, 40):
                N = 11
                xs = [v + 3 for v in logits(N, C)]  # lse well above 0: z factor large
                tg = list(rng.integers(0, C, N))
                ce(f'ce [{N},{C}] zLoss 1 eps 0.1 sum go {G:g}', xs, [N, C], [int(t) for t in tg], eps=0.1, red='sum', zl=1.0, go=G, dtypes=(d,))
            # NCHW: class dim not last (column kernels), 9 and 13 inner positions
            for C, H in ((3, 9), (5, 13), (17, 8)):
                xs = [v + 2 for v in logits(2 * H, C)]
                tg = [int(t) for t in rng.integers(0, C, 2 * H)]
                ce(f'ce [2,{C},{H}] zLoss 0.5 sum go {G:g}', xs, [2, C, H], tg, eps=0.0, red='sum', zl=0.5, go=G, dtypes=(d,))
                ce(f'ce [2,{C},{H}] zLoss 0.5 eps 0.2 mean go {G:g}', xs, [2, C, H], tg, eps=0.2, red='mean', zl=0.5, go=G * 2 * H, dtypes=(d,))
# 'none' with per-position gradOutput mixing huge and ordinary, weights (0, negative), ignore_index
for d in ('f32', 'f64'):
    B = BIG[d]
    for C in (3, 4, 17):
        for layout in ('rows', 'cols'):
            N = 10
            if layout == 'rows':
                shape = [N, C]
            else:
                shape = [2, C, 5]
            xs = [v + 4 for v in logits(N, C)]
            tg = [int(t) for t in rng.integers(0, C, N)]
            tg[3] = -100
            go = [B[2], -B[3], 1.5, B[1], -2.0, B[3], B[0], -B[2], 0.0, B[3]]
            w = list(rng.uniform(0.2, 1.5, C)); w[0] = 0.0
            if C > 3: w[1] = -0.5
            ce(f'ce {layout} {shape} none mixed go weights eps 0.1', xs, shape, tg, w=w, eps=0.1, red='none', zl=1.0, go=go, dtypes=(d,))
            ce(f'ce {layout} {shape} none mixed go', xs, shape, tg, red='none', zl=2.0, go=go, dtypes=(d,))
            # probability targets
            p = rng.uniform(0, 1, (N, C)); p /= p.sum(1, keepdims=True)
            if layout == 'cols':
                p = p.reshape(2, 5, C).transpose(0, 2, 1)
            ce(f'ce {layout} {shape} probs none mixed go eps 0.1', xs, shape, None, eps=0.1, red='none', zl=1.0, go=go, probs=list(p.ravel()), dtypes=(d,))
# special rows: softmax exactly 1, ties, -inf / +inf / NaN logits at huge gradOutput
for d in ('f32', 'f64'):
    B = BIG[d]
    rows = [[5, -inf, -inf], [5, 5, 5], [5, 5, -inf], [5, -200, -200] if d == 'f32' else [5, -800, -800], [inf, 1, 2], [nan, 1, 2], [-inf, -inf, -inf], [60, 1, 2], [3, 3.5, 2], [1e30 if d == 'f32' else 1e300, 0, 0]]
    xs = [v for r in rows for v in r]
    N = len(rows)
    for t0 in (0, 1):
        tg = [t0] * N
        for eps in (0.0, 0.1):
            ce(f'ce special rows [{N},3] t{t0} eps {eps} none huge', xs, [N, 3], tg, eps=eps, red='none', zl=1.0, go=[B[3]] * N, dtypes=(d,))
            ce(f'ce special rows [{N},3] t{t0} eps {eps} none -huge', xs, [N, 3], tg, eps=eps, red='none', zl=1.0, go=[-B[2]] * N, dtypes=(d,))
    # column layout of the same rows
    x3 = np.array(xs).reshape(N, 3).T.reshape(1, 3, N)
    ce(f'ce special cols [1,3,{N}] eps 0.1 none huge', list(x3.ravel()), [1, 3, N], [0] * N, eps=0.1, red='none', zl=1.0, go=[B[3]] * N, dtypes=(d,))
    # true gradient overflows: softmax ~1 at a non-target class
    ce(f'ce overflow [4,3] none', [10, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10], [4, 3], [1, 1, 0, 0], eps=0.1, red='none', zl=1.0, go=[B[3]] * 4, dtypes=(d,))
    ce(f'ce overflow cols [1,3,4] none', list(np.array([10, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10.0]).reshape(4, 3).T.ravel()), [1, 3, 4], [1, 1, 0, 0], eps=0.1, red='none', zl=1.0, go=[B[3]] * 4, dtypes=(d,))

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

sp_t = [0, 5e-45 , 1e-40, 1e30, 3e38, 3.4e38, inf, nan, -0.5, 0.3, 1e-300, 2e-320, 1e300, 0.7]
sp_x = [-inf, inf, nan, -1, 0.5, -inf, 2, -3, 1, 0, 1e30, -1e30, 5e-45, 0.1]
for red in ('none', 'sum', 'mean', 'batchmean'):
    kl(f'kl specials x finite {red}', [-1.5, 0.5, -2, 1, 0.25, -0.75, 3, -3, 1, 0, 2, -2, 0.5, 0.1], sp_t, [2, 7], red)
kl('kl specials x specials none', sp_x, sp_t, [14], 'none')
for tv in (0, 1e-40, 5e-45, 1e-310):
    for xv in (-inf, inf, nan):
        pass
kl('kl t0 x specials', [-inf, inf, nan, 0, -inf, inf, nan, 0, -inf], [0, 0, 0, 0, 1e-40, 1e-40, 1e-40, 1e-40, 0.5], [9], 'none')
kl('kl huge t finite sum', [1, 2, -1, 0.5, 3, 2.5, 1.5, 1, 2], [3e38, 1e30, 2e38, 3.4e38, 1e35, 3e38, 1e38, 2e38, 1], [9], 'sum')
kl('kl huge t none', [1, 2, -1, 0.5, 3, 2.5, 1.5, 1, 2], [3e38, 1e30, 2e38, 3.4e38, 1e35, 3e38, 1e38, 2e38, 1], [9], 'none')
for n in (5, 7, 13, 33):
    tvals = list(rng.uniform(0.01, 1, n))
    xs = [math.log(float(np.float32(v))) + 1e-7 * (1 if i % 2 else -1) for i, v in enumerate(tvals)]
    for red in ('none', 'sum', 'mean', 'batchmean'):
        kl(f'kl near-converged n={n} {red}', xs, tvals, [n], red)
    kl(f'kl near-converged n={n} logTarget sum', xs, [math.log(float(np.float32(v))) for v in tvals], [n], 'sum', True)
tv = list(rng.uniform(1e-30, 1e-20, 12))
kl('kl near-converged tiny t sum', [math.log(float(np.float32(v))) + 1e-6 for v in tv], tv, [12], 'sum')

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
                zz = torch.where(keep, zl * lse * lse, torch.zeros_like(lse))
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

# exact-one tokens: C = 1
for zl, eps in ((1e-3, 0.0), (0.0, 0.1), (1e-2, 0.2)):
    for red in ('sum', 'mean', 'none'):
        x = list(rng.standard_normal(5 * 3)); W = list(rng.standard_normal(3))
        lce(f'lce C=1 zl {zl} eps {eps} {red}', x, W, [0.25], [0, 0, -100, 0, 0], 5, 3, 1, zl=zl, eps=eps, red=red, go=[2.0, -1.5, 3.0, 0.5, 1e3] if red == 'none' else 1.5)
# exact-one via -inf bias, with weights incl zero weight at j / at the target; softcap
D = 3
for C in (2, 4, 9):
    for (zl, eps) in ((1e-3, 0.0), (0.0, 0.1), (1e-2, 0.2)):
        N = 7
        x = list(rng.standard_normal(N * D)); W = list(rng.standard_normal(C * D))
        b = [0.5] + [-inf] * (C - 1)  # softmax exactly 1 at class 0
        tg = [int(t) for t in rng.integers(0, C, N)]; tg[0] = 0; tg[1] = C - 1; tg[2] = -100
        w = list(rng.uniform(0.5, 2, C)); w[0] = 0.0
        w2 = list(rng.uniform(0.5, 2, C)); w2[-1] = 0.0; w2[1 % C] = -0.5
        lce(f'lce -inf bias C={C} zl {zl} eps {eps} sum', x, W, b, tg, N, D, C, zl=zl, eps=eps, red='sum')
        lce(f'lce -inf bias C={C} zl {zl} eps {eps} w0 mean', x, W, b, tg, N, D, C, weight=w, zl=zl, eps=eps, red='mean')
        lce(f'lce -inf bias C={C} zl {zl} eps {eps} w2 none', x, W, b, tg, N, D, C, weight=w2, zl=zl, eps=eps, red='none', go=[1, -2, 3, 1e3, 0.5, -0.25, 7])
        lce(f'lce -inf bias C={C} zl {zl} eps {eps} softcap', x, W, b, tg, N, D, C, zl=zl, eps=eps, red='sum', cap=3.0)
        # far below instead of -inf
        bf = [0.5] + [-60.0] * (C - 1)
        lce(f'lce far-below bias C={C} zl {zl} eps {eps} sum', x, W, bf, tg, N, D, C, zl=zl, eps=eps, red='sum', dtypes=('f64',))
        # probability targets at an exact one
        p = rng.uniform(0, 1, (N, C)); p /= p.sum(1, keepdims=True)
        lce(f'lce -inf bias C={C} zl {zl} eps {eps} probs sum', x, W, b, None, N, D, C, zl=zl, eps=eps, red='sum', probs=list(p.ravel()))
# probability targets at C = 1
lce('lce C=1 zl 1e-3 probs sum', list(rng.standard_normal(12)), list(rng.standard_normal(3)), [0.25], None, 4, 3, 1, zl=1e-3, red='sum', probs=[1.0] * 4)
lce('lce C=1 zl 1e-3 probs 0.5 sum', list(rng.standard_normal(12)), list(rng.standard_normal(3)), [0.25], None, 4, 3, 1, zl=1e-3, red='sum', probs=[0.5] * 4)
# 'mean' with weights summing to zero, exact one
lce('lce -inf bias weights sum 0 mean', list(rng.standard_normal(12)), list(rng.standard_normal(9)), [0.5, -inf, -inf], [0, 1, 2, 0], 4, 3, 3, weight=[1.0, -1.0, 0.0], zl=1e-3, eps=0.1, red='mean')
# gradOutput inf / NaN per token
lce('lce -inf bias go inf nan none', list(rng.standard_normal(12)), list(rng.standard_normal(9)), [0.5, -inf, -inf], [0, 1, 2, 0], 4, 3, 3, zl=1e-3, eps=0.1, red='none', go=[inf, nan, -inf, 1.0])
# many tokens over several chunks: large C, mixed exact-one and ordinary tokens
N, D, C = 1500, 4, 3000
x = rng.standard_normal((N, D)) * 0.5
x[::3, :] = 0.0  # tokens with x = 0: logits = bias
W = rng.standard_normal((C, D)) * 0.5
b = np.full(C, -1.0); b[7] = 40.0  # exp(-41) underflows S's rounding in f32, not f64
tg = rng.integers(0, C, N); tg[::5] = 7; tg[::11] = -100
lce('lce many tokens big C zl eps', list(x.ravel()), list(W.ravel()), list(b), [int(t) for t in tg], N, D, C, zl=1e-3, eps=0.1, red='sum', dtypes=('f32',))
b64 = b.copy(); b64[7] = 60.0
lce('lce many tokens big C zl eps f64', list(x.ravel()), list(W.ravel()), list(b64), [int(t) for t in tg], N, D, C, zl=1e-3, eps=0.1, red='sum', dtypes=('f64',))
# lse infinite max
lce('lce lse +inf and -inf rows', [0.5, -1.25, 2, 0.75, 1, 1], [1.5, -0.25, 1, 2, 0.5, -1], [0, inf, 0], [0, 2, 1], 3, 2, 3, red='none', go=[1, 1, 1])

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

conf = [[0, -30, -40, -50], [0, -33, -33, -33], [0, -25, -25, -25], [0, -15, -16, -17], [0, -30, -inf, -inf], [0, 0, -30, -30],
        [0, -1e-8, -30, -30], [0, -2e-8, -40, -40], [0, -3e-8, -20, -20], [0, -700, -710, -720], [0, -745, -746, -747], [0, -103, -104, -110],
        [0, -inf, -inf, -inf], [1e30, 0, 0, 0], [3, 3, 3, 3], [0, -1, -2, -3]]
for dim1 in (False, True):
    ts('ts confident rows', conf, dim1=dim1)
    ts('ts confident rows C=17', [r + [-35.0] * 13 for r in conf], dim1=dim1)
    ts('ts confident rows C=40', [r + [-28.0 - 0.1 * k for k in range(36)] for r in conf], dim1=dim1)
ts('ts C=1', [[0.5], [-3], [1e30], [0]])
ts('ts C=2 gap sweep', [[0, -g] for g in (10, 17, 20, 24, 28, 36, 38, 40, 45, 60, 90, 100)])
ts('ts C=9 subnormal-exp rows', [[0] + [-100 - k for k in range(8)], [0] + [-740 - k for k in range(8)], [0] + [-88 - k for k in range(8)]])

os.makedirs(os.path.dirname(os.path.abspath(__file__)), exist_ok=True)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cases.json'), 'w') as f:
    json.dump(CASES, f)
print(len(CASES), 'cases')
