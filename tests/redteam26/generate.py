# Red team 26: oracle for tests/redteam26.test.ts (run: /usr/bin/python3 tests/redteam26/generate.py).
# Writes tests/redteam26/cases.json. ctcLoss cases: exact loss and gradient by enumerating every
# alignment in mpmath (red team 24's ctc_oracle.mp_ctc) or, for longer T, forward-backward in
# mpmath at 80 digits (red team 25's mp_ctc_fb, both in ctc_oracle.py), plus PyTorch 1.13 float64 autograd
# (shown, not asserted). crossEntropy cases: PyTorch 1.13 float64 on the float32-rounded inputs.
import json, os, sys, math
import numpy as np, torch, mpmath
mpmath.mp.dps = 60
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'redteam24'))
from ctc_oracle import js, mp_ctc, torch_ctc, mp_ctc_fb, ctc_entry  # red team 24's oracle

cases = []
def ctc_case(name, dtype, lp, target):
    cases.append(ctc_entry(name, dtype, lp, target, 50000))

# F1: two alignments, each taking one large negative log-probability (a at frame 0 or b = a - 0.5
# at frame 1): the exact posterior is sigmoid(0.5), whatever a is. storeSplit's x - n ln2 rounds
# n * LN2_HI (n ~ |a| log2 e has more bits than LN2_HI's 32 leave room for): error ~|a| 2^-53 in log.
for a in [-1172195365548.0, -123452531517069.0, -1160112216148056.0]:
    ctc_case(f'f64 T2 [1] a={a:.0f}', 'f64', [[0.0, a], [0.0, a - 0.5]], [1])
# F1, plausible shape: float64 log_softmax of logits where the blank's logit is masked (-1e12,
# -3e14) on frames 1..4 of 6, target [1, 1, 2]: the repeat forces one masked blank between the 1s,
# on any of those frames, so the alignments compete through different masked log-probabilities
rng = np.random.RandomState(26)
base = rng.randn(6, 4)
def masked_blank(v):
    logits = base.copy(); logits[1:5, 0] = v
    return torch.log_softmax(torch.tensor(logits, dtype=torch.float64), 1).tolist()
ctc_case('f64 T6 C4 blank logit -1e12 on frames 1..4, target [1,1,2]', 'f64', masked_blank(-1e12), [1, 1, 2])
ctc_case('f64 T6 C4 blank logit -3e14 on frames 1..4, target [1,1,2]', 'f64', masked_blank(-3e14), [1, 1, 2])
# F1 in float32: log_softmax in float32 with the blank's logit at -1e14 on frames 1..6 of 8 (every
# masked blank is the same float32 value, -1e14 - lse rounding to -1e14): the scaled rerun runs
# (floor -2^50 ln 2 / 8 = -9.8e13) and its x = lp - frameMax differ per frame by O(1)
base8 = rng.randn(8, 4)
def masked_blank32(v):
    logits = base8.copy(); logits[1:7, 0] = v
    return torch.log_softmax(torch.tensor(logits, dtype=torch.float32), 1).double().tolist()
ctc_case('f32 T8 C4 blank logit -1e14 on frames 1..6, target [1,1,2]', 'f32', masked_blank32(-1e14), [1, 1, 2])
ctc_case('f32 T8 C4 blank logit -1e15 on frames 1..6, target [1,1,2]', 'f32', masked_blank32(-1e15), [1, 1, 2])
# F3: float64 log-probabilities below -DBL_MAX / log2(e) = -1.2457e308 (torch.finfo(torch.float64).min
# is the usual float64 mask): where every alignment takes one, the loss is finite (-lp) but comes out
# Infinity (storeSplit's n = round(x log2 e) overflows to -inf, the format's zero)
FMIN = -1.7976931348623157e308
ctc_case('f64 T1 [] blank -1.3e308', 'f64', [[-1.3e308, 0.0]], [])
ctc_case('f64 T1 [] blank finfo.min', 'f64', [[FMIN, 0.0]], [])
ctc_case('f64 T2 [1] label finfo.min on both frames', 'f64', [[0.0, FMIN], [0.0, FMIN]], [1])
# held: the same with -1e9 (error ~1e-8) and -1e20 (exponents beyond 2^52: NaN, as documented, or exact)
ctc_case('f64 T6 C4 blank logit -1e9 on frames 1..4, target [1,1,2]', 'f64', masked_blank(-1e9), [1, 1, 2])
ctc_case('f64 T6 C4 blank logit -1e20 on frames 1..4, target [1,1,2]', 'f64', masked_blank(-1e20), [1, 1, 2])


# held: a masked float32 batch, T = 160, N = 3, C = 12, blank 0: log_softmax of logits where every
# class outside an element's transcript is masked with -1e20 (so lp = -1e20 - lse: -1e20 in float32),
# and element 0's blank masked on frames 40..59 as well (the scaled rerun runs); element 2 (input
# length 3) is red team 25's forced case ([1, 1]: its one alignment takes a masked blank), whose
# gradient is NaN by design. Elements 0 and 1 must match mpmath, element 2 be NaN or exact, the
# losses exact, and setThreads(2) give the same bits.
T, N, C = 160, 3, 12
rs = np.random.RandomState(2626)
tgts = [[3, 5, 5, 7, 2, 9, 3, 3, 11, 4, 6], [8, 1, 10, 2, 2, 6], [1, 1]]
ilens = [160, 151, 3]
logits = rs.randn(T, N, C) * 2
for b in range(2):
    allowed = set(tgts[b]) | {0}
    for c in range(C):
        if c not in allowed: logits[:, b, c] = -1e20
logits[40:60, 0, 0] = -1e20
lp = torch.log_softmax(torch.tensor(logits, dtype=torch.float32), 2)
lp[:, 2, :] = -1e20
lp[0, 2, 0] = 0; lp[1, 2, 2] = 0; lp[2, 2, 0] = 0; lp[2, 2, 1] = -3e20  # frames 0..2: (blank, other, blank) hold the mass
lpl = lp.double().tolist()
batch = {'shape': [T, N, C], 'lp': [js(v) for r in lpl for q in r for v in q], 'targets': tgts, 'inputLengths': ilens, 'elements': []}
for b in range(N):
    rows = [lpl[t][b] for t in range(ilens[b])]
    loss, grad = mp_ctc_fb(rows, ilens[b], C, tgts[b])
    batch['elements'].append({'mpLoss': js(loss), 'mpGrad': [js(g) for r in grad for g in r]})
    print('batch element', b, float(loss), [float(g) for g in grad[0][:4]])

# crossEntropy (N, C) and (N, C, L), C = 2..5, L = 1..8 sweep (held), and F2
def ce_case(name, f32, shape, x, target, weight, ls, red, go, ign=-100):
    xt = torch.tensor(x, dtype=torch.float64).reshape(shape).requires_grad_(True)
    wt = torch.tensor(weight, dtype=torch.float64) if weight is not None else None
    tshape = [shape[0]] + list(shape[2:])
    loss = torch.nn.functional.cross_entropy(xt, torch.tensor(target).reshape(tshape), weight=wt, ignore_index=ign, reduction=red, label_smoothing=ls)
    loss.backward(torch.tensor(go, dtype=torch.float64))
    return {'name': name, 'f32': f32, 'shape': shape, 'x': [js(v) for v in x], 'target': target, 'weight': weight, 'labelSmoothing': ls, 'reduction': red,
            'gradOutput': go, 'ignoreIndex': ign, 'loss': js(loss.item()), 'grad': [js(v) for v in xt.grad.reshape(-1).tolist()]}
f32 = lambda v: float(np.float32(v))
x = [f32(v) for v in [-6.307600498199463, 4.418108940124512, -11.872666358947754, 12.895498275756836]]
ce = []
ce.append(ce_case('F2 f32 [1,4] mean eps 0.5 w [1000,0,0.5,3e38] gradOutput 1e-30', True, [1, 4], x, [3], [1000.0, 0.0, 0.5, f32(3e38)], 0.5, 'mean', f32(1e-30)))
ce.append(ce_case('F2 f32 [1,4] mean eps 0.1 w [1,0,0.5,1e20] gradOutput 1e-30', True, [1, 4], x, [3], [1.0, 0.0, 0.5, f32(1e20)], 0.1, 'mean', f32(1e-30)))
ce.append(ce_case('F2 f32 [1,4] mean eps 0.5 w [1,0,0.5,3e38] gradOutput 1e-10', True, [1, 4], x, [3], [1.0, 0.0, 0.5, f32(3e38)], 0.5, 'mean', f32(1e-10)))
ce.append(ce_case('F2 f32 [1,4,1] mean eps 0.1 w [1,0,0.5,1e30] gradOutput 1e-20', True, [1, 4, 1], x, [3], [1.0, 0.0, 0.5, f32(1e30)], 0.1, 'mean', f32(1e-20)))
for C in (20, 64):  # rows beyond the regrouped C <= 16 (C = 17 happens to be right)
    xC = [f32(math.sin(c * 1.7) * 4) for c in range(C)]; xC[-1] = f32(12.9)
    wC = [1.0] * C; wC[-1] = f32(3e38)
    ce.append(ce_case(f'F2 f32 [1,{C}] mean eps 0.5 w [1 x {C - 1}, 3e38] gradOutput 1e-30', True, [1, C], xC, [C - 1], wC, 0.5, 'mean', f32(1e-30)))
# the overflow side: every weight 1e-30, so gradOutput / D = 1e60 overflows float32 while every
# gradient entry is ~1e30 (PyTorch float32 gives NaN everywhere; float64 the finite values)
ce.append(ce_case('F2 f32 [1,4] mean eps 0.1 w [1e-30 x 4] gradOutput 1e30', True, [1, 4], x, [3], [f32(1e-30)] * 4, 0.1, 'mean', f32(1e30)))
ce.append(ce_case('F2 f32 [1,4] mean eps 0.5 w [1000,0,0.5,1e10] gradOutput 1e-30', True, [1, 4], x, [3], [1000.0, 0.0, 0.5, f32(1e10)], 0.5, 'mean', f32(1e-30)))

# held: a seeded sweep of crossEntropy on (N, C) and (N, C, L) inputs, C = 2..5, L = 1..8, float32
# (60%) and float64: logits mixing normals of sd 1..1000 with 1e4, -1e4, +-inf, NaN, subnormals,
# 3e38, 1e30, 88, 100; ignoreIndex (some targets ignored); weights from {0, 1e-30, 1e-3, 0.5, 1, 2,
# 1e3, 3e38 (1e300 in float64)}; labelSmoothing {0, 1e-8, 0.1, 0.5, 1}; every reduction; gradOutput
# {1, 16, 1e3, 1e30, 3e38, -2, 1e-30} (per position for 'none'). Reference: PyTorch float64 on the
# same (float32-rounded) values, and PyTorch float32 alongside (grad32).
rng = np.random.RandomState(3)
SPECIAL = [1e4, -1e4, 0.0, float('inf'), float('-inf'), 1e-40, -1e-40, 3e38, -3e38, 88.0, -88.0, 100.0, -100.0, 17.0, 1e-45, 5.0, -5.0, 30.0, 1e30, -1e30]
sweep = []
for i in range(300):
    f32 = rng.rand() < 0.6
    C = int(rng.choice([2, 3, 4, 5]))
    N = int(rng.randint(1, 5))
    L = int(rng.randint(0, 9))  # 0: (N, C)
    shape = [N, C] if L == 0 else [N, C, L]
    n = N * C * max(L, 1)
    pspec = rng.rand() * 0.5
    x = np.where(rng.rand(n) < pspec, rng.choice(SPECIAL + [float('nan')] * (1 if rng.rand() < 0.1 else 0), n), rng.randn(n) * rng.choice([1, 10, 100, 1000]))
    if f32: x = x.astype(np.float32).astype(np.float64)
    ign = -100 if rng.rand() < 0.5 else int(rng.randint(0, C))
    tshape = [N] if L == 0 else [N, L]
    tg = rng.randint(0, C, size=int(np.prod(tshape)))
    tg = np.where(rng.rand(tg.size) < 0.15, ign, tg)
    w = None
    if rng.rand() < 0.4:
        w = rng.choice([0.0, 0.5, 1.0, 2.0, 1e-3, 1e3, 3e38 if f32 else 1e300, 1e-30], C)
        if f32: w = w.astype(np.float32).astype(np.float64)
    ls = float(rng.choice([0.0, 0.0, 0.1, 0.5, 1.0, 1e-8]))
    red = str(rng.choice(['none', 'sum', 'mean']))
    gscale = float(rng.choice([1.0, 16.0, 1e3, 1e30, 3e38 if f32 else 1e300, -2.0, 1e-30]))
    if f32: gscale = float(np.float32(gscale))
    xt = torch.tensor(x, dtype=torch.float64).reshape(shape).requires_grad_(True)
    wt = torch.tensor(w, dtype=torch.float64) if w is not None else None
    tt = torch.tensor(tg, dtype=torch.int64).reshape(tshape)
    loss = torch.nn.functional.cross_entropy(xt, tt, weight=wt, ignore_index=ign, reduction=red, label_smoothing=ls)
    if red == 'none':
        go = rng.choice([gscale, 1.0, 0.0, -1.0], loss.shape)
        if f32: go = go.astype(np.float32).astype(np.float64)
        loss.backward(torch.tensor(go, dtype=torch.float64))
        gospec = [float(v) for v in np.ravel(go)]
    else:
        loss.backward(torch.tensor(gscale, dtype=torch.float64))
        gospec = gscale
    g32 = None; l32 = None
    if f32:
        x3 = torch.tensor(x, dtype=torch.float32).reshape(shape).requires_grad_(True)
        l3 = torch.nn.functional.cross_entropy(x3, tt, weight=(torch.tensor(w, dtype=torch.float32) if w is not None else None), ignore_index=ign, reduction=red, label_smoothing=ls)
        l3.backward(torch.tensor(go if red == 'none' else gscale, dtype=torch.float32))
        g32 = [js(v) for v in x3.grad.reshape(-1).tolist()]; l32 = [js(v) for v in np.ravel(l3.detach().numpy())]
    sweep.append({'f32': bool(f32), 'shape': shape, 'x': [js(v) for v in x], 'target': [int(v) for v in tg], 'ignoreIndex': ign,
                  'weight': None if w is None else [js(v) for v in w], 'labelSmoothing': ls, 'reduction': red, 'gradOutput': gospec if red != 'none' else [js(v) for v in gospec],
                  'loss': [js(v) for v in np.ravel(loss.detach().numpy())], 'grad': [js(v) for v in xt.grad.reshape(-1).tolist()], 'grad32': g32, 'loss32': l32})

with open(os.path.join(HERE, 'cases.json'), 'w') as f: json.dump({'cases': cases, 'batch': batch, 'ce': ce, 'sweep': sweep}, f)
print(len(cases), 'cases')
for c in cases: print(c['name'], c['want']['mpLoss'], c['want']['mpGrad'][:6], c['want']['torchGrad'][:6])
