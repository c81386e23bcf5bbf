#!/usr/bin/python3
"""tests/redteam18/z_overflow.json: crossEntropy with zLoss at gradOutput near the type's max, where
the cross-entropy and z-loss factors of the exps each fit the type but their sum does not (red team
18 F1's OPEN case). PyTorch keeps the two gradients apart, so its gradient is finite.

Run with Debian's python3-torch:  /usr/bin/python3 tests/redteam18/z_overflow.py
Each case: float32 inputs (gradOutput 2.8e38, -2e38) or float64 (1.2e308, -1e308), every layout the
kernels take (rows of C > 16, short rows regrouped into columns, NCHW columns with a row-loop tail,
probability targets), 'sum' and 'none' (a per-position gradOutput), smoothing 0 / 0.1, a class
weight or none. Expected values: torch float64 autograd of cross_entropy + z logsumexp^2 on the
cast inputs (for float32 cases also torch float32's own gradient, all finite, kept for reference);
`factorSum` is the largest |k (CE factor + z factor)| over the positions, above the type's max in
every case (the generator asserts it), so every case takes the path under test."""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
rng = np.random.RandomState(20261202)
F32_MAX = float(np.finfo(np.float32).max)
F64_MAX = float(np.finfo(np.float64).max)


def enc(v):
    v = float(v)
    if v != v:
        return 'NaN'
    if v in (float('inf'), float('-inf')):
        return 'Infinity' if v > 0 else '-Infinity'
    return v


def torch_grad(x, t, probs, w, eps, z, red, go, dt):
    X = torch.tensor(x, dtype=dt, requires_grad=True)
    T = torch.tensor(t, dtype=dt if probs else torch.long)
    W = None if w is None else torch.tensor(w, dtype=dt)
    kw = {'reduction': red, 'label_smoothing': eps}
    if W is not None:
        kw['weight'] = W
    ce = F.cross_entropy(X, T, **kw)
    lse = torch.logsumexp(X, 1)
    zt = z * lse * lse
    L = ce + (zt if red == 'none' else zt.sum())
    L.backward(torch.tensor(go, dtype=dt))
    return X.grad.detach().numpy().astype(np.float64), lse.detach().numpy().astype(np.float64)


def factor_sum(x, t, probs, w, eps, z, go, lse):
    """max over positions of |k ((1 - eps) w_t + eps W / C) / S + k z 2 lse / S| (index targets) or
    |k P / S + k z 2 lse / S| (probabilities), in float64."""
    C = x.shape[1]
    xm = np.moveaxis(x, 1, -1).reshape(-1, C)
    ls = lse.reshape(-1)
    k = np.broadcast_to(np.asarray(go, dtype=np.float64), lse.shape).reshape(-1)
    wv = np.ones(C) if w is None else np.asarray(w)
    if probs:
        pm = np.moveaxis(t, 1, -1).reshape(-1, C)
        mass = ((1 - eps) * pm + eps / C) @ wv
    else:
        tm = np.asarray(t).reshape(-1)
        mass = (1 - eps) * wv[tm] + eps / C * wv.sum()
    S = np.exp(xm - xm.max(1, keepdims=True)).sum(1)
    with np.errstate(over="ignore"):  # (float64 sums overflow: that is the point)
        return float(np.max(np.abs(k * mass / S + k * z * 2 * ls / S)))


cases = []


def case(name, shape, dtype, go, z=1.0, eps=0.0, weight=None, probs=False, red='sum'):
    dt = torch.float32 if dtype == 'float32' else torch.float64
    npdt = np.float32 if dtype == 'float32' else np.float64
    C = shape[1]
    pshape = (shape[0],) + tuple(shape[2:])
    # per position one logit near 0.5, the others in [-19, -4] (red team 18's row): S ~ 1.01, lse ~ 0.5,
    # so the cross-entropy factor k w_t / S and the z factor k z 2 lse / S are alike and each fits
    x = rng.uniform(-19, -4, size=shape)
    xm = np.moveaxis(x, 1, -1)
    top = rng.randint(0, C, size=xm.shape[:-1])
    np.put_along_axis(xm, top[..., None], rng.uniform(0.45, 0.55, size=top.shape)[..., None], axis=-1)
    x = x.astype(npdt).astype(np.float64)
    # the target is each position's top class (probabilities: 0.98 of the mass there), where the
    # two gradients cancel to ~k (1 + 2 z lse - 1): elsewhere the true gradient itself overflows
    if probs:
        p = rng.uniform(0, 1, size=shape)
        pm = np.moveaxis(p, 1, -1)
        pm *= 0.02 / pm.sum(-1, keepdims=True)
        np.put_along_axis(pm, top[..., None], 0.98, axis=-1)
        t = p.astype(npdt).astype(np.float64)
    else:
        t = top.reshape(pshape)
    w = None if weight is None else np.asarray(weight, dtype=npdt).astype(np.float64)
    if red == 'none':
        g = (go * rng.uniform(0.9, 1.0, size=pshape) * rng.choice([-1, 1], size=pshape)).astype(npdt).astype(np.float64)
    else:
        g = np.float64(npdt(go))
    G, lse = torch_grad(x, t, probs, w, eps, z, red, g, torch.float64)
    fs = factor_sum(x, t, probs, w, eps, z, g, lse)
    tmax = F32_MAX if dtype == 'float32' else F64_MAX
    assert fs > tmax, (name, fs)
    c = {'name': name, 'dtype': dtype, 'shape': list(shape), 'input': [enc(v) for v in x.reshape(-1)],
         'target': [enc(v) for v in np.asarray(t, dtype=np.float64).reshape(-1)], 'probs': probs,
         'targetShape': list(t.shape), 'zLoss': z, 'labelSmoothing': eps, 'reduction': red,
         'weight': None if w is None else [enc(v) for v in w],
         'gradOutput': [enc(v) for v in np.asarray(g).reshape(-1)] if red == 'none' else enc(g),
         'factorSum': enc(fs), 'grad': [enc(v) for v in G.reshape(-1)]}
    if dtype == 'float32':
        G32, _ = torch_grad(x, t, probs, w, eps, z, red, g, torch.float32)
        assert np.all(np.isfinite(G32)), (name, G32, G, lse)
        c['gradTorchF32'] = [enc(v) for v in G32.reshape(-1)]
    assert np.all(np.isfinite(G.astype(npdt))), name
    cases.append(c)


for dtype, go in (('float32', 2.8e38), ('float32', -2e38), ('float64', 1.2e308), ('float64', -1.0e308)):
    for eps in (0.0, 0.1):
        tag = f'{dtype}/go{go:g}/eps{eps}'
        case(f'rows [3, 17] (row kernel) {tag}', (3, 17), dtype, go, eps=eps)
        case(f'rows [9, 5] (regrouped into columns) {tag}', (9, 5), dtype, go, eps=eps)
        case(f'NCHW [2, 5, 11] (columns and row tail) {tag}', (2, 5, 11), dtype, go, eps=eps)
        case(f'NCHW [1, 3, 20] weight {tag}', (1, 3, 20), dtype, go, eps=eps, weight=[1.0, 0.95, 0.9])
        case(f'probabilities [3, 17] {tag}', (3, 17), dtype, go, eps=eps, probs=True)
        case(f'probabilities NCHW [2, 4, 3] {tag}', (2, 4, 3), dtype, go, eps=eps, probs=True)
        case(f'none [9, 5] {tag}', (9, 5), dtype, go, eps=eps, red='none')
        case(f'none [3, 17] {tag}', (3, 17), dtype, go, eps=eps, red='none')

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'z_overflow.json')
with open(out, 'w') as f:
    json.dump({'generator': 'tests/redteam18/z_overflow.py', 'torch': torch.__version__, 'cases': cases}, f, allow_nan=False)
print(len(cases), 'cases ->', out)
