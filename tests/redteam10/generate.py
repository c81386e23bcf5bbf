#!/usr/bin/python3
"""Red team 10: torch 1.13 expectations for log_softmax / softmax and their backward passes over
dim 1 of [2, C, inner] tensors holding special values (NaN, +-inf, rows of -inf, ties, huge
logits, differences in the subnormal range, y > 0 for log_softmax's backward).

Run: /usr/bin/python3 tests/redteam10/generate.py  (writes softmax-special.json beside it)

Each case ships its input in its dtype, torch's result in that dtype ("torch") and float64 torch
on the same (cast) values ("f64"; "torch" is null for float64 cases, the same run): the test checks wasm-xent's NaN / infinity pattern against
"torch" and its finite values against "f64". NaN / +-Infinity are the strings "NaN", "Infinity",
"-Infinity". Seeded; only torch and the standard library."""

import json
import math
import os

import torch

torch.manual_seed(1010)
g = torch.Generator().manual_seed(1010)


def enc(t):
    out = []
    for v in t.flatten().tolist():
        out.append("NaN" if v != v else "Infinity" if v == math.inf else "-Infinity" if v == -math.inf else v)
    return out


def pattern(name, shape, dtype):
    n = 1
    for d in shape:
        n *= d
    r = torch.rand(shape, generator=g, dtype=torch.float64)
    z = torch.randn(shape, generator=g, dtype=torch.float64)
    big = 1e4 if dtype == torch.float32 else 1e300
    tiny = 1e-40 if dtype == torch.float32 else 1e-310
    if name == "normal":
        x = z * 3
    elif name == "nan":  # NaN propagates to its whole position
        x = torch.where(r < 0.05, torch.full_like(z, math.nan), z)
    elif name == "pinf":  # +inf: x - max is NaN, so the whole position is NaN
        x = torch.where(r < 0.05, torch.full_like(z, math.inf), z)
    elif name == "ninf":  # -inf entries, and position (0, 0) all -inf
        x = torch.where(r < 0.3, torch.full_like(z, -math.inf), z)
        x[0, :, 0] = -math.inf
    elif name == "ties":
        x = torch.floor(r * 3)
    elif name == "big":
        x = big * torch.where(r < 0.5, torch.ones_like(z), torch.full_like(z, 0.999)) * torch.sign(z)
    elif name == "subnormal-diff":  # differences between logits in the subnormal range
        x = tiny * torch.floor(r * 5)
    elif name == "peaky":  # one large, the rest far below: exps in or below the subnormal band
        x = torch.where(r < 0.5, torch.zeros_like(z), -90 - 20 * z.abs())
    else:
        raise ValueError(name)
    return x.to(dtype)


cases = []
shapes = [(1, 1), (1, 5), (2, 3), (3, 4), (3, 1), (7, 5), (7, 9), (64, 3), (300, 2), (2, 17)]
for dtype in (torch.float32, torch.float64):
    dname = "float32" if dtype == torch.float32 else "float64"
    for C, inner in shapes:
        shape = (2, C, inner)
        for p in ("normal", "nan", "pinf", "ninf", "ties", "big", "subnormal-diff", "peaky"):
            x = pattern(p, shape, dtype)
            for op in ("logSoftmax", "softmax"):
                f = torch.log_softmax if op == "logSoftmax" else torch.softmax
                cases.append({"op": op, "dtype": dname, "shape": list(shape), "pattern": p, "x": enc(x),
                              "torch": enc(f(x, 1)) if dtype == torch.float32 else None, "f64": enc(f(x.double(), 1))})
        # backward: y from log_softmax of normal logits with some entries set above 0 (PyTorch takes
        # any y), -inf and NaN; upstream gradients of scale 1, 1e3 and 1e30 (float32) / 1e200 (float64)
        for scale in ((1.0, 1e3, 1e30) if dtype == torch.float32 else (1.0, 1e3, 1e200)):
            x = (torch.randn(shape, generator=g, dtype=torch.float64) * 3).to(dtype)
            gr = (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)
            r = torch.rand(shape, generator=g, dtype=torch.float64)
            y = torch.log_softmax(x, 1)
            y = torch.where(r < 0.1, (0.25 + 2 * r).to(dtype), y)
            y = torch.where((r > 0.95) & (r < 0.97), torch.full_like(y, -math.inf), y)
            y = torch.where(r > 0.99, torch.full_like(y, math.nan), y)
            cases.append({"op": "logSoftmaxBackward", "dtype": dname, "shape": list(shape), "pattern": f"y>0 -inf NaN, g x {scale:g}",
                          "g": enc(gr), "y": enc(y),
                          "torch": enc(torch._log_softmax_backward_data(gr, y, 1, dtype)) if dtype == torch.float32 else None,
                          "f64": enc(torch._log_softmax_backward_data(gr.double(), y.double(), 1, torch.float64))})
            s = torch.softmax(x, 1)
            cases.append({"op": "softmaxBackward", "dtype": dname, "shape": list(shape), "pattern": f"g x {scale:g}",
                          "g": enc(gr), "y": enc(s),
                          "torch": enc(torch._softmax_backward_data(gr, s, 1, dtype)) if dtype == torch.float32 else None,
                          "f64": enc(torch._softmax_backward_data(gr.double(), s.double(), 1, torch.float64))})

# 'mean' without a weight: mixed and all-ignored targets (nll_loss, cross_entropy), [N, C, L]
mean_cases = []
for dtype, dname in ((torch.float32, "float32"), (torch.float64, "float64")):
    for N, C, L, ignore, frac in ((3, 5, 7, -100, 0.4), (2, 4, 6, 1, 0.3), (2, 3, 5, -100, 1.0), (4, 6, 1, 3, 0.5)):
        x = (torch.randn((N, C, L), generator=g, dtype=torch.float64) * 2).to(dtype)
        t = torch.randint(0, C, (N, L), generator=g)
        r = torch.rand((N, L), generator=g)
        t = torch.where(r < frac, torch.full_like(t, ignore), t)
        for op in ("crossEntropy", "nllLoss"):
            for smoothing in ((0.0, 0.2) if op == "crossEntropy" else (0.0,)):
                xx = x.double().clone().requires_grad_(True)
                if op == "crossEntropy":
                    loss = torch.nn.functional.cross_entropy(xx, t, ignore_index=ignore, label_smoothing=smoothing)
                else:
                    loss = torch.nn.functional.nll_loss(xx, t, ignore_index=ignore)
                loss.backward()
                mean_cases.append({"op": op, "dtype": dname, "shape": [N, C, L], "ignoreIndex": ignore, "labelSmoothing": smoothing,
                                   "x": enc(x), "target": t.flatten().tolist(), "loss": enc(loss.detach())[0], "grad": enc(xx.grad)})

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "softmax-special.json"), "w") as fh:
    json.dump({"torch": torch.__version__, "cases": cases, "mean": mean_cases}, fh, separators=(",", ":"))
print(len(cases), "softmax cases,", len(mean_cases), "mean cases")
