# The ctcLoss oracle that red teams 24 and 25 share (imported by their generate.py): the exact
# gradient by enumerating every alignment in mpmath, PyTorch 1.13 float64 autograd beside it, and
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

