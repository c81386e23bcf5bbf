# Red team 27: PyTorch 1.13 oracle for tests/redteam27.test.ts (run with /usr/bin/python3; writes
# tests/redteam27/cases.json; the test never runs Python).
#
# crossEntropy with class-index targets on the layouts today's commits (3049eaf, fd12b23) changed:
# float32 [N, 2] rows read interleaved (indexColumnsPair / indexPairRows), C = 3 columns
# (indexColumnsTriple: [N, 3] regrouped and NCHW [N, 3, H, W]), NCHW runs of three ([N, C, 3],
# runsOf3, float32 and float64), with specials (+-inf, NaN, 1e30, 3e38, ties), ignored targets,
# weights, label smoothing, z-loss (written out: cross_entropy + z * lse^2 over non-ignored
# positions, its gradient 2 z lse softmax formed directly: autograd of logsumexp rounds
# exp(x - lse) to 1 at ties of huge logits), lse, reductions and gradOutput (scalar up to 3e38,
# per position with inf / NaN / 0). Each case stores PyTorch float64 on the float32-rounded inputs
# and (for float32 cases) PyTorch float32, whose overflow behaviour the test also accepts.
import json, math, random, struct
import torch
import torch.nn.functional as F

def f32(v):
    return struct.unpack('f', struct.pack('f', v))[0] if math.isfinite(v) else v

def enc(a):
    return [v if math.isfinite(v) else str(v).replace('inf', 'Infinity').replace('nan', 'NaN') for v in a]

SPECIALS = [0.0, 1.0, -1.0, 1e30, -1e30, 3e38, -3e38, math.inf, -math.inf, math.nan, 88.0, -88.0,
            100.0, -100.0, 1e-40, 1e20, 20.0, -20.0, 87.5, -103.0]

SHAPES = [[8, 2], [16, 2], [13, 2], [40, 2], [8, 3], [16, 3], [11, 3], [2, 3, 16], [1, 3, 21], [2, 3, 4, 5],
          [4, 2, 3], [3, 3, 3], [5, 1, 3], [6, 4, 3], [1, 5, 3]]
OPTIONS = [{}, {'reduction': 'sum'}, {'reduction': 'none'}, {'labelSmoothing': 0.15}, {'ignoreIndex': 1},
           {'weight': 'w'}, {'weight': 'w', 'labelSmoothing': 0.2}, {'reduction': 'none', 'gradOutput': 'pp'},
           {'reduction': 'sum', 'gradOutput': 1e30}, {'reduction': 'mean', 'gradOutput': 3e38},
           {'reduction': 'sum', 'gradOutput': 1e-38}, {'zLoss': 0.01, 'returnLse': True},
           {'zLoss': 0.3, 'reduction': 'none', 'gradOutput': 'pp', 'returnLse': True},
           {'reduction': 'sum', 'gradOutput': math.inf}, {'reduction': 'none', 'gradOutput': 'pp2'}]

def run(x64, t, shape, o, dt):
    pshape = [s for i, s in enumerate(shape) if i != 1]
    xx = x64.to(dt).reshape(shape).clone().requires_grad_(True)
    tt = torch.tensor(t, dtype=torch.int64).reshape(pshape)
    w = torch.tensor(o['weight'], dtype=dt) if o.get('weight') else None
    red = o.get('reduction', 'mean')
    ign = o.get('ignoreIndex', -100)
    L = F.cross_entropy(xx, tt, weight=w, ignore_index=ign, reduction=red, label_smoothing=o.get('labelSmoothing', 0.0))
    lse = torch.logsumexp(xx.detach(), dim=1)
    z = o.get('zLoss', 0)
    if z:
        kept = (tt != ign)
        sm = torch.softmax(xx.detach(), dim=1)
        class Z(torch.autograd.Function):
            @staticmethod
            def forward(ctx, inp):
                return torch.where(kept, z * lse ** 2, torch.zeros_like(lse))
            @staticmethod
            def backward(ctx, g):
                return torch.where(kept, g * 2 * z * lse, torch.zeros_like(lse)).unsqueeze(1) * sm
        zt = Z.apply(xx)
        L = L + (zt if red == 'none' else zt.sum() if red == 'sum' else zt.sum() / kept.sum())
    go = o.get('gradOutput')
    if isinstance(go, list):
        g = torch.tensor([float(v) for v in go], dtype=dt).reshape(pshape)
    elif go is not None:
        g = torch.tensor(float(go), dtype=dt)
    else:
        g = torch.ones_like(L)
    L.backward(g)
    return {'loss': enc(L.detach().reshape(-1).tolist()), 'grad': enc(xx.grad.reshape(-1).tolist()), 'lse': enc(lse.reshape(-1).tolist())}

cases = []
cid = 0
for shape in SHAPES:
    for dtype in ['f32', 'f64']:
        if dtype == 'f64' and not (len(shape) == 3 and shape[2] == 3):
            continue  # float64 only where runsOf3 moves it (two vectors per run)
        for oi, opt in enumerate(OPTIONS):
            for seed in range(3):
                cid += 1
                r = random.Random(cid * 7919)
                C = shape[1]
                n = math.prod(shape)
                sp = [0.0, 0.25, 0.6][seed]
                x = [r.choice(SPECIALS) if r.random() < sp else (r.random() - 0.5) * 20 for _ in range(n)]
                if seed == 2 and oi % 3 == 0:
                    x = [5.0 if i % 3 == 0 else r.choice([5.0, 1e30, -3e38]) for i in range(n)]  # ties, huge
                x = [f32(v) for v in x]
                pshape = [s for i, s in enumerate(shape) if i != 1]
                P = math.prod(pshape)
                ign = opt.get('ignoreIndex', -100)
                t = [ign if r.random() < 0.12 else r.randrange(C) for _ in range(P)]
                o = dict(opt)
                if o.get('weight') == 'w':
                    o['weight'] = [f32(r.random() * 2) for _ in range(C)]
                if o.get('gradOutput') == 'pp':
                    o['gradOutput'] = [r.choice([1.0, 2.5, -1.0, 0.0, 1e30]) for _ in range(P)]
                elif o.get('gradOutput') == 'pp2':
                    o['gradOutput'] = [r.choice([math.inf, -math.inf, math.nan, 0.0, 1.0]) for _ in range(P)]
                x64 = torch.tensor(x, dtype=torch.float64)
                want64 = run(x64, t, shape, o, torch.float64)
                want32 = run(x64, t, shape, o, torch.float32) if dtype == 'f32' else None
                oo = dict(o)
                if isinstance(oo.get('gradOutput'), list):
                    oo['gradOutput'] = enc(oo['gradOutput'])
                elif oo.get('gradOutput') is not None:
                    oo['gradOutput'] = enc([oo['gradOutput']])[0]
                cases.append({'id': cid, 'shape': shape, 'dtype': dtype, 'x': enc(x), 't': t, 'opts': oo, 'want64': want64, 'want32': want32})

json.dump({'torch': torch.__version__, 'cases': cases}, open(__file__.replace('generate.py', 'cases.json'), 'w'))
print(len(cases), 'cases')
