# Red team 20's oracle: PyTorch 1.13 (torchvision 0.14's sigmoid_focal_loss copied in) (Debian /usr/bin/python3).
# Run: /usr/bin/python3 tests/redteam20/generate.py   (writes tests/redteam20/cases.json; numpy seed 20).
# Every case holds float32-exact inputs. For dtype 'f32' a case stores torch's float32 result (t32) and
# torch's float64 result on the same float32 inputs (t64); for 'f64' only t64. Non-finite numbers are
# written as the strings 'NaN', 'Infinity', '-Infinity'.
import json, math
import numpy as np
import warnings
import torch, torch.nn.functional as F
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures'))
import generate as _fixtures  # (its generators run only as a script)
warnings.filterwarnings("ignore")

def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction='none'):
    """torchvision.ops.sigmoid_focal_loss (0.14) verbatim (torchvision is not installed here)."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss

torch.set_num_threads(1)
rng = np.random.default_rng(20)
inf = float('inf'); nan = float('nan')
cases = []

def enc(v):
    v = float(v)
    if not math.isfinite(v):
        return 'NaN' if math.isnan(v) else ('Infinity' if v > 0 else '-Infinity')
    return v

def encl(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().reshape(-1).tolist()
    return [enc(v) for v in t]

def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64).reshape(-1).tolist()

def tens(vals, shape, dt, grad=False):
    t = torch.tensor(f32(vals), dtype=torch.float64).reshape(shape).to(dt)
    return t.requires_grad_() if grad else t

def outputs_of(res):
    # res: dict of name -> tensor (keys starting with '_' are metadata, not outputs)
    return {k: (encl(v) if v.dim() > 0 else enc(v.item())) for k, v in res.items() if not k.startswith('_')}

def rowscale(g, dim):
    """The error scale of a gradient whose entries are g_c - p_c sum(g): the largest |entry| of its class row."""
    return g.detach().abs().amax(dim=dim, keepdim=True).expand_as(g)

def add(name, op, dtypes, spec, run):
    """spec: JSON-able description of the call (the TS side builds it); run(dt) -> dict of torch results."""
    for d in dtypes:
        c = dict(name=name, op=op, dtype=d, spec=spec)
        if d == 'f32':
            c['t32'] = outputs_of(run(torch.float32))
        ROUND_GO[0] = d == 'f32'
        r64 = run(torch.float64)
        ROUND_GO[0] = False
        c['t64'] = outputs_of(r64)
        if '_scale' in r64:
            c['scale'] = {k: encl(v) for k, v in r64['_scale'].items()}
        if '_spec' in r64:
            c['spec'] = dict(spec, **r64['_spec'])
        if d == 'f32' and '_spec32' in r64:
            c['spec'] = dict(spec, **r64['_spec32'])
        if '_skip' in r64 and any(r64['_skip'].values()):
            c['skip'] = r64['_skip']
        if '_ref' in r64:
            c['ref'] = {k: encl(v) for k, v in r64['_ref'].items()}
        cases.append(c)

ROUND_GO = [False]  # True while computing the float64 expectation of a float32 case

def backward_with(loss, go):
    # a float32 call scales by gradOutput rounded to float32 (README: as PyTorch holds it)
    if ROUND_GO[0]:
        go = f32(go) if isinstance(go, list) else f32([go])[0]
    if loss.dim() == 0:
        loss.backward(torch.tensor(go, dtype=loss.dtype))
    else:
        loss.backward(torch.tensor(go, dtype=loss.dtype).reshape(loss.shape))

def gospec(red, go, shape):
    return go

# ---------------------------------------------------------------- klDiv
def kl(name, x, t, shape, red='mean', logTarget=False, go=None, dtypes=('f32', 'f64')):
    def run(dt):
        X = tens(x, shape, dt, True); T = tens(t, shape, dt)
        l = F.kl_div(X, T, reduction=red, log_target=logTarget)
        g = go if go is not None else (1.0 if l.dim() == 0 else [1.0] * l.numel())
        backward_with(l, g)
        r = dict(loss=l, grad=X.grad)
        if red == 'none':  # the loss t log t - t x cancels: its error scale is |t log t| + |t x|
            Xd, Td = X.detach().double(), T.double()
            r['_scale'] = dict(loss=(torch.exp(Td) * (Td.abs() + Xd.abs())) if logTarget else (torch.xlogy(Td, Td).abs() + (Td * Xd).abs()))
        return r
    add(name, 'klDiv', dtypes, dict(input=encl(f32(x)), shape=shape, target=encl(f32(t)),
                                      options=dict(reduction=red, logTarget=logTarget, grad=True,
                                                   **({} if go is None else dict(gradOutput=go if not isinstance(go, list) else encl(go))))), run)

x6 = [-1.2, -0.3, -2.5, -0.7, -1.1, -0.4]
t6 = [0.2, 0.5, 0.1, 0.3, 0.4, 0.3]
for red in ['none', 'sum', 'mean', 'batchmean']:
    kl(f'klDiv {red}', x6, t6, [2, 3], red)
    kl(f'klDiv logTarget {red}', x6, [-1.6, -0.7, -2.3, -1.2, -0.9, -1.2], [2, 3], red, True)
for go in [16.0, 1e3, 1e30, 3e38, 1e300, 1.7e308, -3e38, 1e-300, 1e-40]:
    kl(f'klDiv sum gradOutput {go}', x6, t6, [2, 3], 'sum', go=go)
    kl(f'klDiv batchmean gradOutput {go}', x6, t6, [2, 3], 'batchmean', go=go)
    kl(f'klDiv logTarget mean gradOutput {go}', x6, [-1.6, -0.7, 2.3, -1.2, 40, -100], [2, 3], 'mean', True, go=go)
kl('klDiv none per-element gradOutput', x6, t6, [2, 3], 'none', go=[1e30, -2.5, 3e38, 0, -0.0, 16])
kl('klDiv specials', [nan, inf, -inf, -inf, 0, -1, 1e30, -1e30, 5e-45, -0.0],
   [0.5, 0.5, 0.5, 0, 0, nan, 1e-45, 1e-45, 0.25, 0], [10], 'none')
kl('klDiv specials sum', [nan, inf, -inf, -inf, 0, -1, 1e30, -1e30, 5e-45, -0.0],
   [0.5, 0.5, 0.5, 0, 0, nan, 1e-45, 1e-45, 0.25, 0], [10], 'sum')
kl('klDiv target inf / huge / negative', [-1, -2, -3, -4, -5], [inf, 3e38, -0.5, 1e-38, 7e-46], [5], 'none')
kl('klDiv logTarget specials', [nan, inf, -inf, -inf, 0, -1, 1e30, 80, 5e-45, -0.0],
   [0.5, 0.5, 0.5, -inf, -inf, nan, inf, 88.7, -1e30, 100], [10], 'none', True)
kl('klDiv logTarget huge sum', [1, 2, 3, 4], [88.0, 88.5, 89.0, 700], [4], 'sum', True)
kl('klDiv 3-D batchmean', list(rng.standard_normal(24)), list(rng.uniform(0, 1, 24)), [2, 3, 4], 'batchmean')
kl('klDiv 0-d', [-0.5], [0.3], [], 'batchmean')
kl('klDiv empty mean', [], [], [0, 4], 'mean')
kl('klDiv empty sum', [], [], [3, 0], 'sum')
kl('klDiv large random', list(rng.standard_normal(1000) * 3), list(rng.uniform(0, 1, 1000)), [1000], 'sum')
kl('klDiv near-cancelling', [math.log(v) + 1e-7 for v in [0.1, 0.2, 0.3, 0.4]], [0.1, 0.2, 0.3, 0.4], [4], 'none')

# ---------------------------------------------------------------- sigmoidFocalLoss
import mpmath
mpmath.mp.dps = 60

def sfl_ref(x, y, alpha, gamma, red, go):
    """An independent 60-digit reference of the sigmoid focal loss and its analytic gradient (finite
    inputs only; others give NaN, and the test then uses torch's value): u = 1 - p_t =
    p + y - 2 p y, ce = softplus(x) - x y, grad = a_t ((p - y) u^g + ce g u^(g-1) (1 - 2y) p (1 - p))."""
    n = len(x); L = []; Gr = []
    for xi, yi in zip(x, y):
        if not (math.isfinite(xi) and math.isfinite(yi)):
            L.append(nan); Gr.append(nan); continue
        X_, Y_ = mpmath.mpf(xi), mpmath.mpf(yi)
        p = 1 / (1 + mpmath.exp(-X_)); q = 1 / (1 + mpmath.exp(X_))
        u = p * (1 - Y_) + q * Y_
        ce = mpmath.log1p(mpmath.exp(-abs(X_))) + max(X_, 0) - X_ * Y_
        at = alpha * Y_ + (1 - alpha) * (1 - Y_) if alpha >= 0 else mpmath.mpf(1)
        if u <= 0:
            L.append(nan); Gr.append(nan); continue
        L.append(at * ce * u ** gamma)
        Gr.append(at * ((p - Y_) * u ** gamma + (ce * gamma * u ** (gamma - 1) * (1 - 2 * Y_) * p * q if gamma else 0)))
    if red == 'none':
        gg = [1.0] * n if go is None else (f32(go) if ROUND_GO[0] else go)
        return dict(loss=torch.tensor([float(v) for v in L], dtype=torch.float64),
                    grad=torch.tensor([float(v * mpmath.mpf(gi)) for v, gi in zip(Gr, gg)], dtype=torch.float64))
    if go is not None and ROUND_GO[0]:
        go = f32([go])[0] if not isinstance(go, list) else f32(go)
    k = mpmath.mpf(1.0 if go is None else go) / (n if red == 'mean' else 1)
    tot = mpmath.fsum(L) / (n if red == 'mean' else 1)
    return dict(loss=torch.tensor(float(tot), dtype=torch.float64), grad=torch.tensor([float(v * k) for v in Gr], dtype=torch.float64))

def sfl(name, x, y, shape, alpha=0.25, gamma=2.0, red='none', go=None, dtypes=('f32', 'f64')):
    def run(dt):
        X = tens(x, shape, dt, True); Y = tens(y, shape, dt)
        l = sigmoid_focal_loss(X, Y, alpha=alpha, gamma=gamma, reduction=red)
        g = go if go is not None else (1.0 if l.dim() == 0 else [1.0] * l.numel())
        backward_with(l, g)
        return dict(loss=l, grad=X.grad)
    opts = dict(alpha=alpha, gamma=gamma, reduction=red, grad=True)
    if go is not None: opts['gradOutput'] = go if not isinstance(go, list) else encl(go)
    run0 = run
    def run(dt):
        r = run0(dt)
        if dt == torch.float64 and len(x):
            r['_ref'] = sfl_ref(f32(x), f32(y), alpha, gamma, red, go)
            xx = torch.tensor(f32(x), dtype=torch.float64); yy = torch.tensor(f32(y), dtype=torch.float64)
            p = torch.sigmoid(xx); u = 1 - (p * yy + (1 - p) * (1 - yy))
            # torchvision forms u = 1 - p_t by subtraction (so does the library, README: "follows PyTorch's
            # autograd step by step"): u carries an absolute error of an ulp of 1, a relative one of
            # eps / u, and so does every term with a power of u: the error scale of an element is |v| / u
            us = u.abs().clamp(min=2.0 ** -60).reshape(r['grad'].shape)
            r['_scale'] = dict(grad=r['grad'].detach().double().abs() / us * (1 if gamma else 0) + r['grad'].detach().double().abs())
            if red == 'none': r['_scale']['loss'] = r['loss'].detach().double().abs() / us.reshape(r['loss'].shape) * (1 if gamma else 0) + r['loss'].detach().double().abs()
            bad = [i for i, v in enumerate(u.tolist()) if math.isfinite(v) and abs(v) < 1e-12]
            r['_skip'] = dict(grad=bad, **(dict(loss=bad) if red == 'none' else {}))
        return r
    add(name, 'sigmoidFocalLoss', dtypes, dict(input=encl(f32(x)), shape=shape, target=encl(f32(y)), options=opts), run)

xs = [2.0, -1.0, 0.5, -3.0, 1.5, 0.0, 10.0, -10.0, 30.0, -30.0, 0.01, -0.01]
ys = [1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0.3, 0.7]
for red in ['none', 'sum', 'mean']:
    for gamma in [0.0, 0.5, 1.0, 2.0, 3.7]:
        for alpha in [0.25, -1.0, 1.0, 0.0]:
            sfl(f'sigmoidFocal {red} gamma {gamma} alpha {alpha}', xs, ys, [3, 4], alpha, gamma, red)
for go in [16.0, 1e3, 1e30, 3e38, 1e300, 1.7e308, 1e-40, 5e-324]:
    sfl(f'sigmoidFocal sum gradOutput {go}', xs, ys, [3, 4], 0.25, 2.0, 'sum', go)
    sfl(f'sigmoidFocal mean gradOutput {go}', xs, ys, [3, 4], 0.25, 2.0, 'mean', go)
sfl('sigmoidFocal specials', [nan, inf, -inf, inf, -inf, 40, -40, 100, -100, 1e-45, -0.0, 88.8, -88.8, 709, -709, 745],
    [1, 1, 1, 0, 0, 1, 0, 0, 1, 0.5, 0, 1, 0, 1, 0, 0], [16], 0.25, 2.0, 'none')
sfl('sigmoidFocal specials gamma 0.5', [40, -40, 100, -100, 17, -17, 37, -37],
    [1, 0, 1, 0, 1, 0, 1, 0], [8], 0.25, 0.5, 'none')
sfl('sigmoidFocal soft targets out of range', [1, -1, 2, -2, 0.5], [1.5, -0.5, 2, -1, 0.5], [5], 0.25, 2.0, 'none')
sfl('sigmoidFocal alpha 2 gamma 1.5', xs, ys, [12], 2.0, 1.5, 'sum')
sfl('sigmoidFocal none per-element gradOutput', xs[:6], ys[:6], [6], 0.25, 2.0, 'none', [1e30, -3, 3e38, 0, 16, 1e-40])
sfl('sigmoidFocal random', list(rng.standard_normal(300) * 4), list((rng.uniform(0, 1, 300) > 0.8).astype(float)), [10, 30], 0.25, 2.0, 'mean')

# ---------------------------------------------------------------- focalLoss
# The focal loss in torch: the fixture generator's own (tests/fixtures/generate.py), not a copy.
focal_t = _fixtures.focal_torch

def focal(name, x, shape, target, tshape, gamma=2.0, weight=None, ii=-100, red='mean', dim=None, go=None, dtypes=('f32', 'f64')):
    def run(dt):
        X = tens(x, shape, dt, True); T = torch.tensor(target, dtype=torch.long).reshape(tshape)
        W = None if weight is None else tens(weight, [len(weight)], dt)
        l = focal_t(X, T, gamma, W, ii, red, dim)
        g = go if go is not None else (1.0 if l.dim() == 0 else [1.0] * l.numel())
        backward_with(l, g)
        cd = (0 if X.dim() == 1 else 1) if dim is None else dim % X.dim()
        return dict(loss=l, grad=X.grad, _scale=dict(grad=rowscale(X.grad, cd)))
    opts = dict(gamma=gamma, reduction=red, grad=True)
    if weight is not None: opts['weight'] = encl(f32(weight))
    if ii != -100: opts['ignoreIndex'] = ii
    if dim is not None: opts['dim'] = dim
    if go is not None: opts['gradOutput'] = go if not isinstance(go, list) else encl(go)
    add(name, 'focalLoss', dtypes, dict(input=encl(f32(x)), shape=shape, target=target, tshape=tshape, options=opts), run)

x24 = list(rng.standard_normal(24) * 2)
for red in ['none', 'sum', 'mean']:
    for gamma in [0.0, 0.5, 1.0, 2.0, 3.3]:
        focal(f'focal [2,3,4] {red} gamma {gamma} weight ignore', x24, [2, 3, 4], [0, 1, 2, -100, 2, 2, 0, 1], [2, 4], gamma, [0.5, 2.0, 1.5], -100, red)
        focal(f'focal [4,3,2] dim 0 {red} gamma {gamma}', x24, [4, 3, 2], [0, 1, 3, 2, 1, 0], [3, 2], gamma, None, -100, red, 0)
    focal(f'focal [2,3,4] dim -1 {red}', x24, [2, 3, 4], [0, 3, 2, 1, 1, 1], [2, 3], 2.0, [1, 2, 3, 0.25], 1, red, -1)
    focal(f'focal [3,8] rows {red} ignore 0', x24, [3, 8], [0, 5, 7], [3], 2.0, None, 0, red)
for go in [16.0, 1e3, 1e30, 3e38, 1e300, 1.7e308, -1e30, 1e-40]:
    focal(f'focal sum gradOutput {go}', x24, [2, 3, 4], [0, 1, 2, 0, 2, 2, 0, 1], [2, 4], 2.0, [0.5, 2.0, 1.5], -100, 'sum', None, go)
    focal(f'focal mean gradOutput {go} gamma 0.5', x24, [2, 3, 4], [0, 1, 2, 0, 2, 2, 0, 1], [2, 4], 0.5, [0.5, 2.0, 1.5], -100, 'mean', None, go)
focal('focal none per-position gradOutput', x24, [2, 3, 4], [0, 1, 2, 0, 2, 2, 0, 1], [2, 4], 2.0, None, -100, 'none', None,
      [1e30, -3, 3e38, 0, 16, 1e-40, 5, -0.0])
focal('focal specials rows', [0, -inf, 1, -inf, -inf, -inf, nan, 0, 1, inf, 0, 1, 1e4, 0, -1e4, 0, 50, -50, 1e-45, 0, -0.0],
      [7, 3], [0, 0, 0, 0, 1, 2, 2], [7], 2.0, None, -100, 'none')
focal('focal target -inf gamma 2', [-inf, 0, 1, 2, -inf, 3], [2, 3], [0, 1], [2], 2.0, None, -100, 'none')
focal('focal p_t=1 gamma 0.5', [100, 0, 0, 0, 100, 0], [2, 3], [0, 1], [2], 0.5, None, -100, 'none')
focal('focal p_t=1 gamma 1', [100, 0, 0, 0, 100, 0], [2, 3], [0, 1], [2], 1.0, None, -100, 'none')
focal('focal C=1', [0.5, -2, 3], [3, 1], [0, 0, 0], [3], 2.0, None, -100, 'sum')
focal('focal C=1 gamma 0.5', [0.5, -2, 3], [3, 1], [0, 0, 0], [3], 0.5, None, -100, 'sum')
focal('focal all ignored mean', x24[:6], [2, 3], [-100, -100], [2], 2.0, None, -100, 'mean')
focal('focal zero weight sum mean', x24[:6], [2, 3], [0, 0], [2], 2.0, [0, 1, 1], -100, 'mean')
focal('focal 1-D', [0.3, -1.2, 2.2, 0.1], [4], [2], [], 2.0, None, -100, 'mean')
focal('focal 1-D sum', [0.3, -1.2, 2.2, 0.1], [4], [1], [], 1.5, [1, 2, 3, 4], -100, 'sum')
xs2 = list(rng.standard_normal(2 * 5 * 3 * 9))
focal('focal 4-D [2,5,3,9] mean weight', xs2, [2, 5, 3, 9], list(rng.integers(0, 5, 54)), [2, 3, 9], 2.0, [1, 0.5, 2, 3, 0.1], 4, 'mean')
focal('focal 4-D [2,5,3,9] dim 2', xs2, [2, 5, 3, 9], list(rng.integers(0, 3, 90)), [2, 5, 9], 1.0, None, -100, 'sum', 2)
focal('focal large C rows', list(rng.standard_normal(3 * 40) * 5), [3, 40], [0, 17, 39], [3], 2.0, None, -100, 'none')

# ---------------------------------------------------------------- nllLoss
def nll(name, x, shape, target, tshape, weight=None, ii=-100, red='mean', dim=None, go=None, dtypes=('f32', 'f64')):
    def run(dt):
        X = tens(x, shape, dt, True); T = torch.tensor(target, dtype=torch.long).reshape(tshape)
        W = None if weight is None else tens(weight, [len(weight)], dt)
        Xm = X if dim is None or dim % X.dim() == (0 if X.dim() == 1 else 1) else X.movedim(dim, 1)
        l = F.nll_loss(Xm, T, weight=W, ignore_index=ii, reduction=red)
        g = go if go is not None else (1.0 if l.dim() == 0 else [1.0] * l.numel())
        backward_with(l, g)
        return dict(loss=l, grad=X.grad)
    opts = dict(reduction=red, grad=True)
    if weight is not None: opts['weight'] = encl(f32(weight))
    if ii != -100: opts['ignoreIndex'] = ii
    if dim is not None: opts['dim'] = dim
    if go is not None: opts['gradOutput'] = go if not isinstance(go, list) else encl(go)
    add(name, 'nllLoss', dtypes, dict(input=encl(f32(x)), shape=shape, target=target, tshape=tshape, options=opts), run)

for red in ['none', 'sum', 'mean']:
    nll(f'nll [2,3,4] {red} weight ignore', x24, [2, 3, 4], [0, 1, 2, -100, 2, 2, 0, 1], [2, 4], [0.5, 2.0, 1.5], -100, red)
    nll(f'nll [2,3,2,2] {red} ignore 1', x24, [2, 3, 2, 2], [0, 1, 2, 1, 2, 2, 0, 1], [2, 2, 2], None, 1, red)
    nll(f'nll [2,3,4] dim -1 {red} weight', x24, [2, 3, 4], [0, 3, 2, 1, 1, 1], [2, 3], [1, 2, 3, 0.25], -100, red, -1)
    nll(f'nll 1-D {red}', [0.3, -1.2, 2.2, 0.1], [4], [2], [], [1, 2, 3, 4], -100, red)
    nll(f'nll specials {red}', [nan, 0, inf, -inf, 1, 2, -inf, 3, nan, 1e38, -3e38, 5e-45], [4, 3], [1, 0, 0, 2], [4], None, -100, red)
for go in [16.0, 1e3, 1e30, 3e38, 1e300, 1.7e308, 1e-40, 5e-324]:
    nll(f'nll mean weight gradOutput {go}', x24, [2, 3, 4], [0, 1, 2, 0, 2, 2, 0, 1], [2, 4], [0.5, 2.0, 1.5], -100, 'mean', None, go)
nll('nll mean weights sum tiny', x24[:6], [2, 3], [0, 0], [2], [1e-40, 1, 1], -100, 'mean')
nll('nll mean weights 3e38', x24[:6], [2, 3], [0, 1], [2], [3e38, 3e38, 1], -100, 'mean')
nll('nll sum weights 3e38 gradOutput 3e38', x24[:6], [2, 3], [0, 1], [2], [3e38, 3e38, 1], -100, 'sum', None, 3e38)
nll('nll mean zero weight sum', x24[:6], [2, 3], [0, 1], [2], [0, 0, 1], -100, 'mean')
nll('nll mean all ignored', x24[:6], [2, 3], [-100, -100], [2], None, -100, 'mean')
nll('nll empty [0,3] mean', [], [0, 3], [], [0], None, -100, 'mean')
nll('nll empty [2,3,0] sum', [], [2, 3, 0], [], [2, 0], None, -100, 'sum')
nll('nll none gradOutput per position', x24, [2, 3, 4], [0, 1, 2, 0, 2, 2, 0, 1], [2, 4], [0.5, 2.0, 1.5], -100, 'none', None,
    [1e30, -3, 3e38, 0, 16, 1e-40, 5, -0.0])

# ---------------------------------------------------------------- softmax / logSoftmax and backward
def sm(name, x, shape, dim, g=None, dtypes=('f32', 'f64')):
    """softmax / logSoftmax of x, and the two backward kernels on TORCH's forward outputs of the
    case's dtype (spec.y, spec.ly), so both sides differentiate the same numbers."""
    cd = dim % len(shape)
    for d in dtypes:
        dt = torch.float32 if d == 'f32' else torch.float64
        X = tens(x, shape, dt)
        y = F.softmax(X, dim); ly = F.log_softmax(X, dim)
        spec = dict(input=encl(f32(x)), shape=shape, dim=dim)
        c = dict(name=name, op='softmax', dtype=d, spec=spec)
        X64 = X.double()
        m = X64.amax(dim=cd, keepdim=True) if X64.numel() else X64.sum(cd, keepdim=True)
        # log_softmax = (x - m) - log S with S >= 1 rounded: log S carries an absolute error of an ulp of 1
        lscale = (X64 - m).abs() + torch.logsumexp(X64, cd, keepdim=True).sub(m).abs() + 1
        c['t64'] = dict(softmax=encl(F.softmax(X64, dim)), logSoftmax=encl(F.log_softmax(X64, dim)))
        c['scale'] = dict(logSoftmax=encl(lscale))
        if d == 'f32':
            c['t32'] = dict(softmax=encl(y), logSoftmax=encl(ly))
        if g is not None:
            G = tens(g, shape, dt)
            spec['g'] = encl(G); spec['y'] = encl(y); spec['ly'] = encl(ly)
            Y64, LY64, G64 = y.double(), ly.double(), G.double()
            c['t64']['softmaxBackward'] = encl(torch._softmax_backward_data(G64, Y64, cd, torch.float64))
            c['t64']['logSoftmaxBackward'] = encl(torch._log_softmax_backward_data(G64, LY64, cd, torch.float64))
            c['scale']['softmaxBackward'] = encl(Y64.abs() * (G64.abs() + (G64 * Y64).abs().sum(cd, keepdim=True)))
            c['scale']['logSoftmaxBackward'] = encl(G64.abs() + LY64.exp() * G64.abs().sum(cd, keepdim=True))
            if d == 'f32':
                c['t32']['softmaxBackward'] = encl(torch._softmax_backward_data(G, y, cd, dt))
                c['t32']['logSoftmaxBackward'] = encl(torch._log_softmax_backward_data(G, ly, cd, dt))
        cases.append(c)

for shape in [[3, 5, 4], [7, 9], [2, 17, 3], [4, 33, 2, 2]]:
    n = int(np.prod(shape))
    xx = list(rng.standard_normal(n) * 3); gg = list(rng.standard_normal(n))
    # every dim once (negative dims: the first shape only; [4, 33, 2, 2]: the class dim 1 and the last)
    for dim in ([-3, -2, -1] if shape == [3, 5, 4] else []) + ([1, 3] if len(shape) == 4 else list(range(len(shape)))):
        sm(f'softmax {shape} dim {dim}', xx, shape, dim, gg)
sp = [0, -inf, 1, -inf, -inf, -inf, nan, 0, 1, inf, 0, 1, inf, inf, -inf, 1e4, 0, -1e4, 88, -100, 5e-45, 3e38, -3e38, 0]
sm('softmax specials [8,3] dim 1', sp, [8, 3], 1, [1.0] * 24)
sm('softmax specials [8,3] dim 0', sp, [8, 3], 0, [1.0] * 24)
sm('softmax specials [3,8] dim 0 (columns)', sp, [3, 8], 0, list(rng.standard_normal(24)))
sm('softmax specials [2,3,4] dim 1', sp, [2, 3, 4], 1, list(rng.standard_normal(24)))
big = [3e38, -3e38, 1e38, 2e38, 3e38, 3e38, 0, 1, -1, 3.4e38, 3.4e38, -3.4e38]
sm('softmax backward huge g [4,3] dim 1', list(rng.standard_normal(12)), [4, 3], 1, big)
sm('softmax backward huge g [4,3] dim 0', list(rng.standard_normal(12)), [4, 3], 0, big)
sm('softmax backward huge g [3,4] dim 1', list(rng.standard_normal(12)), [3, 4], 1, big)
sm('softmax backward tiny g', list(rng.standard_normal(12)), [3, 4], 0, [1e-45, 2e-45, -3e-45, 1e-40] * 3)
sm('softmax backward g with NaN/inf', list(rng.standard_normal(12)), [3, 4], 0, [nan, 0, 1, 2, inf, 1, 1, 1, -inf, inf, 0, 0])
sm('softmax [1,1,9] dim 1 (C=1)', list(rng.standard_normal(9)), [1, 1, 9], 1, list(rng.standard_normal(9)))
sm('softmax [9] dim 0', list(rng.standard_normal(9)), [9], 0, list(rng.standard_normal(9)))
sm('softmax empty [0,3] dim 0', [], [0, 3], 0, [])
sm('softmax empty [3,0] dim 0', [], [3, 0], 0, [])

# ---------------------------------------------------------------- ctcLoss
def ctc(name, lp, shape, targets, tshape, il, tl, blank=0, red='mean', zi=False, go=None, dtypes=('f32', 'f64')):
    def run(dt):
        X = tens(lp, shape, dt, True)
        l = F.ctc_loss(X, torch.tensor(targets, dtype=torch.long).reshape(tshape), torch.tensor(il), torch.tensor(tl),
                       blank=blank, reduction=red, zero_infinity=zi)
        g = go if go is not None else (1.0 if l.dim() == 0 else [1.0] * l.numel())
        backward_with(l, g)
        # the gradient is g exp(lp) - g (occupancy) / p(l|x): its error scale is the larger of the two terms
        kk = torch.tensor(g, dtype=torch.float64).abs().reshape(-1) if isinstance(g, list) else torch.tensor(abs(g) if g else 1.0)
        if red == 'mean': kk = kk / torch.tensor(tl, dtype=torch.float64).clamp(min=1) / (len(il) if isinstance(il, list) else 1)
        sc = X.detach().double().exp() * (kk if kk.dim() == 0 else kk.reshape(1, -1, 1)) if X.dim() == 3 else X.detach().double().exp() * kk
        return dict(loss=l, grad=X.grad, _scale=dict(grad=rowscale(X.grad.double().abs() + torch.nan_to_num(sc, nan=0.0), -1)))
    opts = dict(blank=blank, reduction=red, zeroInfinity=zi, grad=True)
    if go is not None: opts['gradOutput'] = go if not isinstance(go, list) else encl(go)
    add(name, 'ctcLoss', dtypes, dict(input=encl(f32(lp)), shape=shape, targets=targets, tshape=tshape, il=il, tl=tl, options=opts), run)

def logsm(T, N, C, scale=2.0):
    return torch.log_softmax(torch.tensor(rng.standard_normal((T, N, C)) * scale), 2).numpy().reshape(-1).tolist()

lp = logsm(6, 3, 5)
for red in ['none', 'sum', 'mean']:
    ctc(f'ctc {red}', lp, [6, 3, 5], [1, 2, 3, 3, 4, 1], [6], [6, 5, 4], [2, 3, 1], 0, red)
    ctc(f'ctc {red} blank 2 padded', lp, [6, 3, 5], [1, 3, 0, 0, 4, 4, 0, 0, 1, 1, 1, 1], [3, 4], [6, 6, 6], [2, 2, 4], 2, red)
for go in [16.0, 1e3, 1e30, 3e38, 1e300, 1.7e308, 1e-40, 5e-324]:
    ctc(f'ctc mean gradOutput {go}', lp, [6, 3, 5], [1, 2, 3, 3, 4, 1], [6], [6, 5, 4], [2, 3, 1], 0, 'mean', False, go)
ctc('ctc none per-element gradOutput', lp, [6, 3, 5], [1, 2, 3, 3, 4, 1], [6], [6, 5, 4], [2, 3, 1], 0, 'none', False, [1e30, -2, 3e38])
ctc('ctc mean target length 0', lp, [6, 3, 5], [1, 2, 3], [3], [6, 5, 4], [2, 0, 1], 0, 'mean')
ctc('ctc impossible zeroInfinity mean', lp, [6, 3, 5], [1, 1, 1, 1, 2, 3], [6], [6, 5, 4], [4, 1, 1], 0, 'mean', True)
ctc('ctc impossible sum', lp, [6, 3, 5], [1, 1, 1, 1, 2, 3], [6], [6, 5, 4], [4, 1, 1], 0, 'sum', False)
lpn = list(lp); lpn[5 * 15 + 2] = nan
ctc('ctc NaN in frame past input length', lpn, [6, 3, 5], [1, 2, 3, 3, 4, 1], [6], [6, 5, 4], [2, 3, 1], 0, 'none')
lpi = [v * 3 - 50 for v in lp]
ctc('ctc unnormalised very negative', lpi, [6, 3, 5], [1, 2, 3, 3, 4, 1], [6], [6, 5, 4], [2, 3, 1], 0, 'none')
ctc('ctc subnormal-ish probs', [-700.0 if i % 5 else -1e-3 for i in range(90)], [6, 3, 5], [1, 2, 3, 3, 4, 1], [6], [6, 5, 4], [2, 3, 1], 0, 'none')
ctc('ctc C=2 long labels', logsm(12, 2, 2), [12, 2, 2], [1] * 5 + [1, 1, 1], [8], [12, 11], [5, 3], 0, 'none')
ctc('ctc unbatched', logsm(7, 1, 4), [7, 4], [1, 2, 2], [3], 7, 3, 0, 'mean')

# ---------------------------------------------------------------- tokenScores
def ts(name, x, shape, target, tshape, dim=-1, topK=None, ii=-100, dtypes=('f32', 'f64')):
    def run(dt):
        X = tens(x, shape, dt)
        Xm = X.movedim(dim, -1)
        C = Xm.shape[-1]
        lse = torch.logsumexp(Xm, -1)
        lp = F.log_softmax(Xm, -1)
        ent = torch.special.entr(lp.exp()).sum(-1)
        res = dict(lse=lse, entropy=ent)
        if target is not None:
            T = torch.tensor(target, dtype=torch.long).reshape(tshape)
            keep = T != ii
            tc = torch.where(keep, T, torch.zeros_like(T))[..., None]
            logp = lp.gather(-1, tc).squeeze(-1)
            res['logProb'] = torch.where(keep, logp, torch.full_like(logp, nan))
            rank = (Xm > Xm.gather(-1, tc)).sum(-1)
            res['rank'] = torch.where(keep, rank, torch.full_like(rank, -1)).double()
        if dt == torch.float64:
            ent = []
            for row in Xm.reshape(-1, C).tolist():
                if not all(math.isfinite(v) for v in row):
                    ent.append(nan); continue
                m = max(row); e = [mpmath.exp(mpmath.mpf(v) - m) for v in row]; S = mpmath.fsum(e)
                ent.append(float(mpmath.log(S) - mpmath.fsum(ei * (mpmath.mpf(v) - m) for ei, v in zip(e, row)) / S))
            res['_ref'] = dict(entropy=torch.tensor(ent, dtype=torch.float64))
            # entropy = log S - D / S with S >= 1 rounded: an absolute error of an ulp of 1 (finding F4)
            res['_scale'] = dict(entropy=torch.ones(len(ent), dtype=torch.float64))
        return res
    spec = dict(input=encl(f32(x)), shape=shape, target=target, tshape=tshape, options=dict(dim=dim, ignoreIndex=ii))
    add(name, 'tokenScores', dtypes, spec, run)

ts('tokenScores specials', sp + [0, 0, 0], [9, 3], [0, 1, 2, 0, 1, 2, 0, 1, 2], [9])
ts('tokenScores random [4,5,7] dim 1', list(rng.standard_normal(140) * 4), [4, 5, 7], list(rng.integers(0, 5, 28)), [4, 7], 1)
ts('tokenScores confident', [0, -30, -40, -50, 0, -100, -1e4, -3e38], [2, 4], [0, 1], [2])
ts('tokenScores subnormal probs', [0, -103, -104, -120, 0, -745, -746, -740], [2, 4], [1, 2], [2])
ts('tokenScores ignore 2', [1, 2, 3, 4, 5, 6], [2, 3], [2, 1], [2], -1, None, 2)

# ---------------------------------------------------------------- linearCrossEntropy
def lce(name, N, D, C, target, bias=True, weight=None, ii=-100, ls=0.0, red='mean', softcap=None, zl=0.0, go=None, scale=1.0, dtypes=('f32', 'f64')):
    x = list(rng.standard_normal(N * D) * scale); W = list(rng.standard_normal(C * D) * scale); b = list(rng.standard_normal(C))
    def run(dt):
        X = tens(x, [N, D], dt, True); Wt = tens(W, [C, D], dt, True); B = tens(b, [C], dt, True) if bias else None
        z = F.linear(X, Wt, B)
        if softcap is not None: z = softcap * torch.tanh(z / softcap)
        T = torch.tensor(target, dtype=torch.long)
        wt = None if weight is None else tens(weight, [C], dt)
        l = F.cross_entropy(z, T, weight=wt, ignore_index=ii, label_smoothing=ls, reduction=red)
        lse = torch.logsumexp(z, 1)
        if zl:
            keep = (T != ii)
            # the z term over the kept positions only (masking by multiplication would give autograd's
            # 0 * inf = NaN gradients when no position is kept)
            zt = torch.zeros_like(lse).index_put((keep,), zl * lse[keep] ** 2)
            if red == 'none': l = l + zt
            elif red == 'sum': l = l + zt.sum()
            else: l = l + zt.sum() / keep.sum()
        g = go if go is not None else (1.0 if l.dim() == 0 else [1.0] * l.numel())
        backward_with(l, g)
        res = dict(loss=l, gradInput=X.grad, gradWeight=Wt.grad, lse=lse)
        if bias: res['gradBias'] = B.grad
        # error scales of the GEMMs: |dZ| |W|, |dZ|^T |x|, sum |dZ| (dZ = d loss / d logits, torch)
        Xd, Wd = X.detach(), Wt.detach()
        z2 = F.linear(Xd, Wd, B.detach() if bias else None).requires_grad_()
        zz = softcap * torch.tanh(z2 / softcap) if softcap is not None else z2
        l2 = F.cross_entropy(zz, T, weight=wt, ignore_index=ii, label_smoothing=ls, reduction=red)
        if zl:
            lse2 = torch.logsumexp(zz, 1); zt2 = torch.zeros_like(lse2).index_put((keep,), zl * lse2[keep] ** 2)
            l2 = l2 + (zt2 if red == 'none' else zt2.sum() if red == 'sum' else zt2.sum() / keep.sum())
        backward_with(l2, g)
        dZ = z2.grad.abs()
        res['_scale'] = dict(gradInput=dZ @ Wd.abs(), gradWeight=dZ.t() @ Xd.abs())
        if bias: res['_scale']['gradBias'] = dZ.sum(0)
        return res
    opts = dict(reduction=red, grad=True, returnLse=True)
    if weight is not None: opts['weight'] = encl(f32(weight))
    if ii != -100: opts['ignoreIndex'] = ii
    if ls: opts['labelSmoothing'] = ls
    if softcap is not None: opts['softcap'] = softcap
    if zl: opts['zLoss'] = zl
    if go is not None: opts['gradOutput'] = go if not isinstance(go, list) else encl(go)
    add(name, 'linearCrossEntropy', dtypes, dict(input=encl(f32(x)), N=N, D=D, C=C, W=encl(f32(W)), b=encl(f32(b)) if bias else None,
                                                  target=target, options=opts), run)

lce('lce basic', 5, 4, 6, [0, 5, 2, -100, 3])
lce('lce weight ls zloss softcap', 5, 4, 6, [0, 5, 2, -100, 3], True, [1, 2, 0.5, 0.25, 3, 1], -100, 0.1, 'mean', 3.0, 1e-3)
lce('lce none', 5, 4, 6, [0, 5, 2, -100, 3], True, None, -100, 0.2, 'none', None, 1e-2, [1, -2, 3e3, 7, 0])
lce('lce sum no bias ignore 2', 7, 3, 5, [0, 2, 2, 4, 1, 1, 3], False, None, 2, 0.0, 'sum')
for go in [16.0, 1e3, 1e30, 1e300]:
    lce(f'lce mean gradOutput {go}', 5, 4, 6, [0, 5, 2, 1, 3], True, None, -100, 0.0, 'mean', None, 0.0, go)
lce('lce big logits', 4, 3, 5, [0, 1, 2, 3], True, None, -100, 0.0, 'mean', None, 0.0, None, 30.0)
lce('lce big logits softcap', 4, 3, 5, [0, 1, 2, 3], True, None, -100, 0.0, 'mean', 5.0, 0.0, None, 30.0)
lce('lce all ignored mean', 3, 2, 4, [-100, -100, -100], True, None, -100, 0.0, 'mean', None, 1e-3)
lce('lce C=1', 3, 2, 1, [0, 0, 0], True, None, -100, 0.1, 'sum', None, 1e-3)
lce('lce 17 classes D 9', 11, 9, 17, list(rng.integers(0, 17, 11)), True, list(rng.uniform(0, 2, 17)), -100, 0.05, 'mean', 30.0, 1e-4)

# ---------------------------------------------------------------- added after the first run
# klDiv where t log t and t x nearly cancel, 9 elements (8 vector lanes and a tail)
nc = [0.1, 0.2, 0.3, 0.4, 0.15, 0.25, 0.35, 0.45, 0.3]
kl('klDiv near-cancelling 9', [math.log(v) + 1e-7 for v in nc], nc, [9], 'none')
kl('klDiv near-cancelling 9 sum', [math.log(v) + 1e-7 for v in nc], nc, [9], 'sum')
kl('klDiv near-cancelling 9 logTarget', [math.log(v) + 1e-7 for v in nc], [math.log(v) for v in nc], [9], 'none', True)
kl('klDiv near-cancelling [3,3] batchmean', [math.log(v) - 3e-7 for v in nc], nc, [3, 3], 'batchmean')

# linearCrossEntropy where a softmax is exactly 1: C = 1, or a bias of -inf on the other classes
def lce_fixed(name, x, N, D, W, C, b, target, opts, go=None, dtypes=('f32', 'f64')):
    def run(dt):
        X = tens(x, [N, D], dt, True); Wt = tens(W, [C, D], dt, True); B = tens(b, [C], dt, True) if b is not None else None
        z = F.linear(X, Wt, B)
        T = torch.tensor(target, dtype=torch.long)
        l = F.cross_entropy(z, T, label_smoothing=opts.get('labelSmoothing', 0.0), reduction=opts.get('reduction', 'mean'))
        zl = opts.get('zLoss', 0)
        if zl:
            lse = torch.logsumexp(z, 1); red = opts.get('reduction', 'mean')
            l = l + (zl * lse ** 2 if red == 'none' else (zl * lse ** 2).sum() if red == 'sum' else (zl * lse ** 2).mean())
        g = go if go is not None else (1.0 if l.dim() == 0 else [1.0] * l.numel())
        backward_with(l, g)
        res = dict(loss=l, gradInput=X.grad, gradWeight=Wt.grad, lse=torch.logsumexp(z.detach(), 1))
        if b is not None: res['gradBias'] = B.grad
        return res
    o = dict(opts, grad=True, returnLse=True)
    if go is not None: o['gradOutput'] = encl(go) if isinstance(go, list) else go
    add(name, 'linearCrossEntropy', dtypes, dict(input=encl(f32(x)), N=N, D=D, W=encl(f32(W)), C=C, b=encl(f32(b)) if b is not None else None,
                                                  target=target, options=o), run)

xs3 = [0.5, -1.25, 2, 0.75, -0.5, 1.5]
lce_fixed('lce C=1 zLoss sum', xs3, 3, 2, [1.5, -0.25], 1, [0.125], [0, 0, 0], dict(zLoss=1e-3, reduction='sum'))
lce_fixed('lce C=1 zLoss mean', xs3, 3, 2, [1.5, -0.25], 1, [0.125], [0, 0, 0], dict(zLoss=1e-3, reduction='mean'))
lce_fixed('lce C=1 zLoss + smoothing none', xs3, 3, 2, [1.5, -0.25], 1, [0.125], [0, 0, 0], dict(zLoss=1e-3, labelSmoothing=0.1, reduction='none'))
lce_fixed('lce C=1 zLoss 1.0 sum', xs3, 3, 2, [1.5, -0.25], 1, [0.125], [0, 0, 0], dict(zLoss=1.0, reduction='sum'))
lce_fixed('lce -inf bias zLoss sum', xs3, 3, 2, [1.5, -0.25, 1, 2], 2, [0.125, -inf], [0, 0, 0], dict(zLoss=1e-3, reduction='sum'))
lce_fixed('lce -inf bias smoothing sum', xs3, 3, 2, [1.5, -0.25, 1, 2], 2, [0.125, -inf], [0, 0, 0], dict(labelSmoothing=0.1, reduction='sum'))
lce_fixed('lce -inf bias zLoss + smoothing sum', xs3, 3, 2, [1.5, -0.25, 1, 2], 2, [0.125, -inf], [0, 0, 0], dict(zLoss=1e-3, labelSmoothing=0.1, reduction='sum'))
lce_fixed('lce -inf bias plain sum', xs3, 3, 2, [1.5, -0.25, 1, 2], 2, [0.125, -inf], [0, 0, 0], dict(reduction='sum'))
lce_fixed('lce C=9 rows, one class 60 above, zLoss', [1.0] * 9 * 2, 9, 2, [30, 30] + [0, 0] * 8, 9, [0.0] * 9, [0] * 9, dict(zLoss=1e-2, reduction='sum'))

# per-position gradOutput of NaN / inf at an ignored position: PyTorch skips ignored positions
nll('nll none NaN/inf gradOutput at ignored', x24, [2, 3, 4], [0, 1, -100, 0, 2, -100, 0, 1], [2, 4], [0.5, 2.0, 1.5], -100, 'none', None,
    [1.0, 2.0, nan, 3.0, 1.0, inf, 1.0, 1.0])
focal('focal none NaN/inf gradOutput at ignored', x24, [2, 3, 4], [0, 1, -100, 0, 2, -100, 0, 1], [2, 4], 2.0, [0.5, 2.0, 1.5], -100, 'none', None,
      [1.0, 2.0, nan, 3.0, 1.0, inf, 1.0, 1.0])
focal('focal none NaN/inf gradOutput at ignored gamma 0.5', x24, [2, 3, 4], [0, 1, -100, 0, 2, -100, 0, 1], [2, 4], 0.5, None, -100, 'none', None,
      [1.0, 2.0, nan, 3.0, 1.0, -inf, 1.0, 1.0])
lce_fixed('lce none NaN gradOutput at ignored', xs3, 3, 2, [1.5, -0.25, 1, 2, 0.5, -1], 3, [0.125, 0, 1], [0, -100, 2], dict(reduction='none'), go=[1.0, nan, 2.0])
lce_fixed('lce none inf gradOutput at ignored + smoothing', xs3, 3, 2, [1.5, -0.25, 1, 2, 0.5, -1], 3, [0.125, 0, 1], [0, -100, 2], dict(reduction='none', labelSmoothing=0.2), go=[1.0, inf, 2.0])
lce_fixed('lce x with +inf', [0.5, inf, 2, 0.75, -0.5, 1.5], 3, 2, [1.5, -0.25, 1, 2, 0.5, -1], 3, [0.125, 0, 1], [0, 1, 2], dict(reduction='sum'))
lce_fixed('lce x with NaN', [0.5, nan, 2, 0.75, -0.5, 1.5], 3, 2, [1.5, -0.25, 1, 2, 0.5, -1], 3, [0.125, 0, 1], [0, 1, 2], dict(reduction='sum'))

# linearCrossEntropy with probability targets, and a 3-D input
def lce_prob(name, N, D, C, opts, go=None, dtypes=('f32', 'f64'), lead=None):
    x = list(rng.standard_normal(N * D)); W = list(rng.standard_normal(C * D)); b = list(rng.standard_normal(C))
    P = rng.uniform(0, 1, (N, C)); P[0] = 0; P[0, 1] = 1; P = (P / P.sum(1, keepdims=True)).reshape(-1).tolist()
    def run(dt):
        X = tens(x, [N, D], dt, True); Wt = tens(W, [C, D], dt, True); B = tens(b, [C], dt, True)
        z = F.linear(X, Wt, B)
        Pt = tens(P, [N, C], dt)
        wt = tens(opts['weight'], [C], dt) if 'weight' in opts else None
        l = F.cross_entropy(z, Pt, weight=wt, label_smoothing=opts.get('labelSmoothing', 0.0), reduction=opts.get('reduction', 'mean'))
        g = go if go is not None else (1.0 if l.dim() == 0 else [1.0] * l.numel())
        backward_with(l, g)
        dZ = None
        return dict(loss=l, gradInput=X.grad, gradWeight=Wt.grad, gradBias=B.grad, lse=torch.logsumexp(z.detach(), 1))
    o = dict(opts, grad=True, returnLse=True)
    if 'weight' in o: o['weight'] = encl(f32(o['weight']))
    if go is not None: o['gradOutput'] = encl(go) if isinstance(go, list) else go
    add(name, 'linearCrossEntropy', dtypes, dict(input=encl(f32(x)), N=N, D=D, W=encl(f32(W)), C=C, b=encl(f32(b)), ptarget=encl(f32(P)), lead=lead,
                                                  target=None, options=o), run)

lce_prob('lce probabilities mean', 6, 4, 7, dict(reduction='mean'))
lce_prob('lce probabilities weight smoothing sum', 6, 4, 7, dict(reduction='sum', weight=[1, 2, 0.5, 0.25, 3, 1, 1], labelSmoothing=0.15))
lce_prob('lce probabilities none gradOutput', 6, 4, 7, dict(reduction='none'), go=[1, -2, 0.5, 1e3, 0, 3])
lce_prob('lce probabilities [2,3,D] lead', 6, 4, 7, dict(reduction='mean', labelSmoothing=0.1), lead=[2, 3])
lce('lce 19 classes softcap zLoss none', 9, 5, 19, list(rng.integers(0, 19, 9)), True, None, -100, 0.0, 'none', 2.0, 1e-2, list(rng.standard_normal(9)))

# empty dims
focal('focal empty [0,3] mean', [], [0, 3], [], [0], 2.0, None, -100, 'mean')
focal('focal empty [0,3] sum', [], [0, 3], [], [0], 2.0, None, -100, 'sum')
focal('focal empty [2,3,0] none', [], [2, 3, 0], [], [2, 0], 2.0, None, -100, 'none')
sfl('sigmoidFocal empty mean', [], [], [0, 4], 0.25, 2.0, 'mean')
sfl('sigmoidFocal empty sum', [], [], [4, 0], 0.25, 2.0, 'sum')
kl('klDiv empty batchmean [0]', [], [], [0], 'batchmean')
nll('nll empty [0,3] none', [], [0, 3], [], [0], None, -100, 'none')
ts('tokenScores empty positions', [], [0, 5], [], [0])
json.dump(cases, open(__file__.replace('generate.py', 'cases.json'), 'w'), default=int, separators=(',', ':'))
print(len(cases), 'cases')
