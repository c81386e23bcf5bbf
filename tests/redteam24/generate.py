# Red team 24: oracle for tests/redteam24.test.ts (run: /usr/bin/python3 tests/redteam24/generate.py). ctcLoss cases ('cases'): exact posteriors by enumerating
# every alignment in mpmath (60 digits) on the exact (float32-rounded where f32) log-probabilities,
# plus PyTorch 1.13 float64 autograd. Writes tests/redteam24/cases.json.
# focalLoss rows ('focal'): 60-digit mpmath loss and gradient. crossEntropy / linearCrossEntropy confident
# rows ('ce'): mpmath log S and 1/S - 1, torch float64 cross_entropy loss and grad[0].
import itertools, json, os
import numpy as np, torch, mpmath
mpmath.mp.dps = 60
HERE = os.path.dirname(os.path.abspath(__file__))

from ctc_oracle import js, collapse, mp_ctc, torch_ctc

cases = []
def ctc_case(name, dtype, lp, target):
    T, C = len(lp), len(lp[0])
    if dtype == 'f32': lp = [[float(np.float32(v)) for v in row] for row in lp]
    loss, grad = mp_ctc(lp, T, C, target)
    tl, tg = torch_ctc(lp, T, C, target)
    cases.append({'name': name, 'op': 'ctc', 'dtype': dtype, 'spec': {'lp': [js(v) for r in lp for v in r], 'shape': [T, 1, C], 'target': target},
                  'want': {'mpLoss': js(loss), 'mpGrad': [js(g) for r in grad for g in r], 'torchLoss': js(tl), 'torchGrad': [js(g) for g in tg]}})

# F1: two masked values; alignment (blank, label) takes two a's, (label, label) a + b, (label, blank) two b's
for a, b in [(-1e19, -1e20), (-5e14, -1e15), (-1e16, -1e16 - 64)]:
    ctc_case(f'ctc f64 T2 masks {a} {b}', 'f64', [[a, b], [b, a]], [1])
ctc_case('ctc f32 T2 masks -1e20 -3.4e38', 'f32', [[-1e20, -3.4e38], [-3.4e38, -1e20]], [1])
# additive mask (score - 1e16 after log_softmax): frame 1 certain of class 2 (outside the transcript),
# classes 0 and 1 masked with different scores; frames 0 and 2 uniform
l3 = float(np.log(1 / 3))
ctc_case('ctc f64 T3 additive mask -1e16', 'f64', [[l3, l3, l3], [-1e16 - 2.0 ** 4, -1e16 - 2.0 ** 3 * 3, 0.0], [l3, l3, l3]], [1])
ctc_case('ctc f32 T3 masks -1e20 vs -1e30', 'f32', [[l3, l3, l3], [-1e20, -1e30, 0.0], [l3, l3, l3]], [1])
ctc_case('ctc f64 T4 repeated label masks', 'f64', [[-1e18, 0.0, -2.0], [-2e18, -1.0, 0.0], [-1e18, -3e18, 0.0], [-0.5, -1e18, -1.0]], [1, 1])
json.dump({'cases': cases}, open(os.path.join(HERE, 'cases.json'), 'w'), indent=0)
for c in cases: print(c['name'], c['want']['mpLoss'], c['want']['mpGrad'], c['want']['torchGrad'])

# focalLoss confident rows (1 < S < 2), ties, target not the max: mpmath on the exact inputs, 'none'
def mp_focal(row, t, gamma, w=1.0, go=1.0):
    x = [mpmath.mpf(v) for v in row]
    m = max(x); S = mpmath.fsum(mpmath.exp(v - m) for v in x)
    lp = [v - m - mpmath.log(S) for v in x]
    p = [mpmath.exp(v) for v in lp]
    u = 1 - p[t]
    g = mpmath.mpf(gamma)
    loss = -w * u ** g * lp[t]
    # d loss / d lp_t
    dl = -w * (u ** g - (g * u ** (g - 1) * p[t] * lp[t] if gamma != 0 else 0))
    grad = [go * dl * ((1 if c == t else 0) - p[c]) for c in range(len(x))]
    return loss, grad

fc = []
rows = [([30, 0, 0], 0), ([30, 0, 0], 1), ([20, 20, 0], 0), ([20, 20, -3], 2), ([17, 0, 1e-30], 0), ([40, 3, 3, 3], 0),
        ([10, 0], 0), ([10, 0], 1), ([3, 2.5, -1], 0), ([16, 0, 0, 0, 0], 0), ([0.7, 0, 0], 0), ([36.7, 0], 0), ([37.5, 0], 0), ([38, 0], 0)]
for dtype in ['f64', 'f32']:
    for gamma in [0, 0.5, 1, 2, 3.7]:
        for r, t in rows:
            rr = [float(np.float32(v)) for v in r] if dtype == 'f32' else r
            loss, grad = mp_focal(rr, t, gamma)
            fc.append({'dtype': dtype, 'gamma': gamma, 'row': [js(v) for v in rr], 't': t, 'loss': js(loss), 'grad': [js(g) for g in grad]})
d = json.load(open(os.path.join(HERE, 'cases.json')))
d['focal'] = fc
json.dump(d, open(os.path.join(HERE, 'cases.json'), 'w'), indent=0)

# crossEntropy / logSoftmax float64 confident rows: exact loss log S and target gradient -(1 - 1/S)
ce = []
for name, v, C, rest in [('[40, 0 x 999]', 40.0, 1000, 0.0), ('[40, 0 x 69999]', 40.0, 70000, 0.0), ('[38, 0 x 999]', 38.0, 1000, 0.0), ('[2, -37 x 999]', 2.0, 1000, -37.0), ('[1000, 960 x 999]', 1000.0, 1000, 960.0), ('[1000, 965 x 999]', 1000.0, 1000, 965.0), ('[-1000, -1040 x 999]', -1000.0, 1000, -1040.0), ('[1e5, 1e5 - 30 x 999]', 1e5, 1000, 1e5 - 30)]:
    S = 1 + (C - 1) * mpmath.exp(mpmath.mpf(rest) - v)
    x = torch.full((1, C), rest, dtype=torch.float64); x[0, 0] = v; x.requires_grad_(True)
    l = torch.nn.functional.cross_entropy(x, torch.tensor([0]), reduction='sum'); l.backward()
    ce.append({'name': name, 'v': v, 'C': C, 'rest': rest, 'mpLoss': js(mpmath.log(S)), 'mpGrad0': js(1 / S - 1),
               'torchLoss': js(l.item()), 'torchGrad0': js(x.grad[0, 0].item())})
d = json.load(open(os.path.join(HERE, 'cases.json')))
d['ce'] = ce
json.dump(d, open(os.path.join(HERE, 'cases.json'), 'w'), indent=0)
for c in ce: print(c)
