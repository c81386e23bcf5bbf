# The ctcLoss oracle that red teams 24 to 26 share (imported by their generate.py): the exact
# gradient by enumerating every alignment in mpmath (mp_ctc) or, for T too long, forward-backward
# in mpmath (mp_ctc_fb), PyTorch 1.13 float64 autograd beside it, and
# the JSON encoding of a number.
import itertools
import numpy as np, torch, mpmath

def js(v):
    v = float(v)
    if v != v: return 'NaN'
    if v == float('inf'): return 'Infinity'
    if v == float('-inf'): return '-Infinity'
    return v

def collapse(path, blank=0):
    out, prev = [], None
    for c in path:
        if c != prev and c != blank: out.append(c)
        prev = c
    return out

def mp_ctc(lp, T, C, target):
    # lp: T x C floats (exact), one batch element, reduction 'sum', blank 0
    tot = mpmath.mpf(0); post = [[mpmath.mpf(0)] * C for _ in range(T)]
    for path in itertools.product(range(C), repeat=T):
        if collapse(path) != list(target): continue
        w = mpmath.exp(mpmath.fsum(mpmath.mpf(lp[t][path[t]]) for t in range(T)))
        tot += w
        for t in range(T): post[t][path[t]] += w
    loss = -mpmath.log(tot)
    grad = [[mpmath.exp(mpmath.mpf(lp[t][c])) - post[t][c] / tot for c in range(C)] for t in range(T)]
    return loss, grad

def torch_ctc(lp, T, C, target):
    x = torch.tensor(lp, dtype=torch.float64).reshape(T, 1, C).requires_grad_(True)
    l = torch.nn.functional.ctc_loss(x, torch.tensor([target]), [T], [len(target)], reduction='sum')
    l.backward()
    return l.item(), x.grad.reshape(-1).tolist()

def mp_ctc_fb(lp, T, C, target):
    # forward-backward in mpmath (80 digits), blank 0, for T too long to enumerate (red team 25's)
    with mpmath.workdps(80):
        ext = [0]
        for l in target: ext += [l, 0]
        L = len(ext); Z = mpmath.mpf(0)
        y = [[mpmath.exp(mpmath.mpf(lp[t][ext[s]])) for s in range(L)] for t in range(T)]
        a = [[Z] * L for _ in range(T)]; b = [[Z] * L for _ in range(T)]
        a[0][0] = y[0][0]; a[0][1] = y[0][1]
        for t in range(1, T):
            for s in range(L):
                v = a[t-1][s] + (a[t-1][s-1] if s > 0 else 0) + (a[t-1][s-2] if s > 1 and ext[s] != 0 and ext[s] != ext[s-2] else 0)
                a[t][s] = v * y[t][s]
        b[T-1][L-1] = y[T-1][L-1]; b[T-1][L-2] = y[T-1][L-2]
        for t in range(T-2, -1, -1):
            for s in range(L):
                v = b[t+1][s] + (b[t+1][s+1] if s < L-1 else 0) + (b[t+1][s+2] if s < L-2 and ext[s] != 0 and ext[s] != ext[s+2] else 0)
                b[t][s] = v * y[t][s]
        p = a[T-1][L-1] + a[T-1][L-2]
        grad = []
        for t in range(T):
            post = [Z] * C
            for s in range(L):
                if y[t][s] != 0: post[ext[s]] += a[t][s] * b[t][s] / y[t][s]
            grad.append([mpmath.exp(mpmath.mpf(lp[t][k])) - post[k] / p for k in range(C)])
        return -mpmath.log(p), grad

def ctc_entry(name, dtype, lp, target, enumerate_max):
    # one ctcLoss case for a cases.json: mpmath by enumeration while C^T <= enumerate_max, else
    # forward-backward; float32 cases take the float32-rounded values; torch float64 beside it
    T, C = len(lp), len(lp[0])
    if dtype == 'f32': lp = [[float(np.float32(v)) for v in row] for row in lp]
    loss, grad = mp_ctc(lp, T, C, target) if C ** T <= enumerate_max else mp_ctc_fb(lp, T, C, target)
    tl, tg = torch_ctc(lp, T, C, target)
    return {'name': name, 'op': 'ctc', 'dtype': dtype, 'spec': {'lp': [js(v) for r in lp for v in r], 'shape': [T, 1, C], 'target': target},
            'want': {'mpLoss': js(loss), 'mpGrad': [js(g) for r in grad for g in r], 'torchLoss': js(tl), 'torchGrad': [js(g) for g in tg]}}
