#!/usr/bin/python3
"""PyTorch figures for the wasm-xent benchmark: the workloads W1-W6 of bench/data.mjs (same
generator, reproduced here in numpy, so the losses can be compared with wasm-xent's), forward and
forward+backward, with torch.set_num_threads(1) and (2). Writes bench/torch-results.json.

Run by bench/run.mjs; by hand: /usr/bin/python3 bench/torch_bench.py [--quick] [--out FILE]
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

MASK = 0xFFFFFFFF


def lowbias32(x):
    """lowbias32 on a uint32 array (in place on a copy); the JS version is in bench/data.mjs."""
    x = x.astype(np.uint32, copy=True)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def key_of(seed):
    return lowbias32(np.array([(seed + 0x9E3779B9) & MASK], dtype=np.uint32))[0]


def hash_(seed, idx):
    return lowbias32(lowbias32(idx.astype(np.uint32)) ^ key_of(seed))


def uniform(seed, n):
    return (hash_(seed, np.arange(n, dtype=np.uint64)).astype(np.float64) + 0.5) / 4294967296.0


def normals(seed, n):
    k = np.arange(n, dtype=np.uint64)
    key = key_of(seed)
    u1 = (lowbias32(lowbias32((2 * k).astype(np.uint32)) ^ key).astype(np.float64) + 0.5) / 4294967296.0
    u2 = (lowbias32(lowbias32((2 * k + 1).astype(np.uint32)) ^ key).astype(np.float64) + 0.5) / 4294967296.0
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos((2.0 * np.pi) * u2)
    return z.astype(np.float32)


def softmax_rows(z, rows, cols):
    z = z.reshape(rows, cols).astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32).reshape(-1)


SHAPES = {
    'W1': [4096, 1000],
    'W2': [512, 32000],
    'W3': [8, 21, 128, 128],
    'W4': [4096, 1000],
    'W5': [4096, 1000],
    'W6': [4096, 1000],
    'W9': [200, 32, 80],
    'W10': [4096, 1000],
    'W11': [4096, 1000],
    'W12': [512, 32000],
    'W12-bf16': [512, 32000],
}

# Workloads whose tensor is not float32: W12-bf16 is W12 on a torch.bfloat16 tensor (W2's logits
# rounded to nearest even, as bench/tokens.mjs rounds them); every op of its scores() runs in
# bfloat16 on the CPU in torch 1.13, none upcast.
DTYPES = {'W12-bf16': torch.bfloat16}


def workload(wid):
    """Returns (x float32 tensor, fn(x) -> loss-or-output tensor, forward_only)."""
    shape = SHAPES[wid]
    numel = int(np.prod(shape))
    if wid == 'W1':
        n, c = shape
        x = normals(1, numel)
        t = torch.from_numpy((hash_(2, np.arange(n)) % c).astype(np.int64))
        return x, lambda v: F.cross_entropy(v, t), False
    if wid == 'W2':
        n, c = shape
        x = normals(3, numel)
        t = (hash_(4, np.arange(n)) % c).astype(np.int64)
        t[uniform(5, n) < 0.1] = -100
        t = torch.from_numpy(t)
        return x, lambda v: F.cross_entropy(v, t, ignore_index=-100, label_smoothing=0.1), False
    if wid == 'W3':
        n, c, h, w = shape
        x = normals(6, numel)
        t = torch.from_numpy((hash_(7, np.arange(n * h * w)) % c).astype(np.int64).reshape(n, h, w))
        weight = torch.from_numpy((0.5 + uniform(8, c)).astype(np.float32))
        return x, lambda v: F.cross_entropy(v, t, weight=weight), False
    if wid == 'W4':
        n, c = shape
        x = normals(9, numel)
        p = torch.from_numpy(softmax_rows(normals(10, numel), n, c).reshape(n, c))
        return x, lambda v: F.cross_entropy(v, p), False
    if wid == 'W5':
        n, c = shape
        x = normals(11, numel)
        y = torch.from_numpy((uniform(12, numel) < 0.1).astype(np.float32).reshape(n, c))
        pw = torch.from_numpy((0.5 + 2.0 * uniform(13, c)).astype(np.float32))
        return x, lambda v: F.binary_cross_entropy_with_logits(v, y, pos_weight=pw), False
    if wid == 'W6':
        x = normals(14, numel)
        return x, lambda v: torch.log_softmax(v, -1), True
    if wid == 'W9':
        tt, n, c = shape
        z = normals(15, numel).reshape(tt * n, c).astype(np.float64)
        z = z - z.max(axis=1, keepdims=True)
        x = (z - np.log(np.exp(z).sum(axis=1, keepdims=True))).astype(np.float32).reshape(-1)
        s = 40
        t = torch.from_numpy((1 + hash_(16, np.arange(n * s)) % (c - 1)).astype(np.int64).reshape(n, s))
        il = torch.full((n,), tt, dtype=torch.long)
        tl = torch.full((n,), s, dtype=torch.long)
        return x, lambda v: F.ctc_loss(v, t, il, tl), False
    if wid == 'W10':  # bench/family.mjs: klDiv, log_softmax of W4's logits vs W4's probabilities
        n, c = shape
        x = torch.log_softmax(torch.from_numpy(normals(9, numel)).double().reshape(n, c), 1).float().numpy().reshape(-1)
        p = torch.from_numpy(softmax_rows(normals(10, numel), n, c).reshape(n, c))
        return x, lambda v: F.kl_div(v, p, reduction='batchmean'), False
    if wid == 'W11':  # bench/family.mjs: focal loss on W1's data, gamma 2, written in torch
        n, c = shape
        x = normals(1, numel)
        t = torch.from_numpy((hash_(2, np.arange(n)) % c).astype(np.int64))

        def focal(v):
            lpt = torch.log_softmax(v, 1).gather(1, t[:, None]).squeeze(1)
            return (-(1 - lpt.exp()) ** 2 * lpt).mean()
        return x, focal, False
    if wid in ('W12', 'W12-bf16'):  # bench/tokens.mjs: tokenScores on W2's data, topK 5
        n, c = shape
        x = normals(3, numel)
        t = (hash_(4, np.arange(n)) % c).astype(np.int64)
        t[uniform(5, n) < 0.1] = -100
        t = torch.from_numpy(t)
        keep = t != -100
        tt = t.clamp(min=0)[:, None]

        def scores(v):
            lse = torch.logsumexp(v, -1)
            lp = torch.log_softmax(v, -1)
            entropy = torch.special.entr(lp.exp()).sum(-1)
            argmax = v.argmax(-1)
            lpt = lp.gather(1, tt).squeeze(1)
            rank = (v > v.gather(1, tt)).sum(-1)
            top = torch.topk(lp, 5, -1)
            return lpt[keep].float().mean()  # the check value: mean logProb over the scored positions
        return x, scores, True
    raise ValueError(wid)


def stats(samples, numel):
    s = sorted(samples)
    q = lambda f: s[min(len(s) - 1, int(round(f * (len(s) - 1))))]
    k = 1e9 / numel
    return {
        'median': statistics.median(s) * k, 'min': s[0] * k, 'max': s[-1] * k,
        'p10': q(0.1) * k, 'p90': q(0.9) * k, 'calls': len(s),
    }


def busy_ticks():
    # Busy clock ticks (USER_HZ) of all cores since boot: /proc/stat's user nice system irq softirq
    # steal; None off Linux. See bench/load.mjs, which measures the JS contenders the same way.
    try:
        with open('/proc/stat') as f:
            v = [int(t) for t in f.readline().split()[1:]]
        return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    except (OSError, ValueError, IndexError):
        return None


def own_ticks():
    # This process's utime + stime (every thread), from /proc/self/stat (fields 14 and 15).
    with open('/proc/self/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])


def other_load(before, after):
    # Cores other processes kept busy between two (wall seconds, busy ticks, own ticks) snapshots.
    (t0, b0, o0), (t1, b1, o1) = before, after
    if b0 is None or b1 is None or t1 <= t0:
        return {'otherLoad': None, 'loaded': False}
    cores = max(0.0, ((b1 - b0) - (o1 - o0)) / os.sysconf('SC_CLK_TCK') / (t1 - t0))
    return {'otherLoad': round(cores, 3), 'loaded': cores > 0.2}


def snapshot():
    return (time.perf_counter(), busy_ticks(), own_ticks())


def time_calls(call, budget, min_calls, max_calls, warmup, warmup_seconds):
    # Warm up for `warmup` calls and at least `warmup_seconds`: the first calls on fresh 16 MB
    # buffers pay page faults until the allocator settles.
    t_end = time.perf_counter() + warmup_seconds
    done = 0
    while done < warmup or time.perf_counter() < t_end:
        call()
        done += 1
    samples = []
    spent = 0.0
    before = snapshot()
    while len(samples) < min_calls or (spent < budget and len(samples) < max_calls):
        t0 = time.perf_counter()
        call()
        dt = time.perf_counter() - t0
        samples.append(dt)
        spent += dt
    return samples, other_load(before, snapshot())



# W7, W8 (issue 10, bench/lm.mjs): the LM head, linear + cross_entropy unfused as PyTorch runs it,
# forward + gradients for the input and the weight; ns per N*C*D, and the peak RSS of a call.
LM = {
    'W7': dict(N=512, D=768, C=32000, ignore=0.1, ls=0.1, zloss=0.0, seed=70),
    'W8': dict(N=256, D=1024, C=151936, ignore=0.0, ls=0.0, zloss=1e-4, seed=80),
}


def lm_data(wid):
    s = LM[wid]
    N, D, C, seed = s['N'], s['D'], s['C'], s['seed']
    x = torch.from_numpy(normals(seed + 1, N * D).reshape(N, D))
    w = torch.from_numpy((normals(seed + 2, C * D) * np.float32(1 / math.sqrt(D))).astype(np.float32).reshape(C, D))
    t = (hash_(seed + 3, np.arange(N)) % C).astype(np.int64)
    t[uniform(seed + 4, N) < s['ignore']] = -100
    return x, w, torch.from_numpy(t)


def lm_loss(X, W, t, s):
    logits = X @ W.t()
    loss = F.cross_entropy(logits, t, ignore_index=-100, label_smoothing=s['ls'])
    if s['zloss']:
        keep = (t != -100)
        lse = torch.logsumexp(logits, 1)
        loss = loss + s['zloss'] * (lse[keep] ** 2).sum() / keep.sum()
    return loss


def rss_kib(field):
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ':'))


def blas_library():
    # The BLAS this process loaded: Debian's torch calls libblas.so.3, an alternative between the
    # reference (netlib) BLAS and OpenBLAS, chosen by update-alternatives or LD_LIBRARY_PATH.
    # The file mapped as libblas.so.3 is the one whose sgemm_ torch calls (OpenBLAS's own
    # libopenblas.so.0 may be mapped beside the reference BLAS when LAPACK is OpenBLAS's).
    try:
        with open('/proc/self/maps') as f:
            libs = {l.split()[-1] for l in f if os.path.basename(l.split()[-1]).startswith('libblas.so')}
    except OSError:
        return None
    real = sorted({os.path.realpath(l) for l in libs})
    return 'openblas' if any('openblas' in l for l in real) else 'netlib' if real else None


def lm_bench(wid, threads, settings, tokens=0):
    """Returns ({'fwdgrad': {threads: stats}, 'peakMiB': ..., 'tokens': ..., 'blas': ...}, loss).
    With tokens > 0 only the first `tokens` positions are timed (the cost is linear in N; the unit,
    ns per N*C*D, is the same): the reference BLAS takes a minute per full W7 call."""
    s = LM[wid]
    x, w, t = lm_data(wid)
    if tokens:
        x, t = x[:tokens].contiguous(), t[:tokens].contiguous()
    X = x.clone().requires_grad_(True)
    W = w.clone().requires_grad_(True)
    numel = X.shape[0] * s['C'] * s['D']

    def fwdgrad():
        X.grad = None
        W.grad = None
        loss = lm_loss(X, W, t, s)
        loss.backward()
        return loss

    loss = float(fwdgrad())
    X.grad = W.grad = None
    peak = None
    try:  # peak RSS of one call over the RSS before it (writing 5 to clear_refs resets VmHWM)
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        before = rss_kib('VmRSS')
        fwdgrad()
        peak = (rss_kib('VmHWM') - before) / 1024
    except OSError:
        pass
    out = {'fwdgrad': {}, 'peakMiB': peak, 'tokens': int(X.shape[0]), 'blas': blas_library()}
    budget, min_calls, warmup, warmup_s = settings
    for n in threads:
        torch.set_num_threads(n)
        samples, load = time_calls(fwdgrad, budget, min_calls, 50, warmup, warmup_s)
        out['fwdgrad'][str(n)] = {**stats(samples, numel), **load}
    return out, loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch-results.json'))
    ap.add_argument('--workloads', default='W1,W2,W3,W4,W5,W6,W9,W10,W11,W12,W12-bf16')
    ap.add_argument('--threads', default='1,2')
    ap.add_argument('--lm-tokens', type=int, default=0, help='W7/W8: time only the first N tokens (0: all)')
    args = ap.parse_args()
    budget, min_calls, warmup, warmup_s = (0.1, 3, 3, 0.1) if args.quick else (1.5, 7, 3, 0.3)
    threads = [int(t) for t in args.threads.split(',')]
    results, checks = {}, {}
    t_start = time.time()
    for wid in args.workloads.split(','):
        if wid in LM:
            results[wid], checks[wid] = lm_bench(wid, threads, (budget, 1 if args.quick else 2, 0, 0), args.lm_tokens)
            print(f"torch {wid}: fwdgrad " + ', '.join(f"{n}T {r['median']:.3f}" for n, r in results[wid]['fwdgrad'].items())
                  + f" ns per N*C*D, peak {results[wid]['peakMiB']} MiB, {results[wid]['blas']} BLAS, {results[wid]['tokens']} tokens", file=sys.stderr, flush=True)
            continue
        xs, fn, forward_only = workload(wid)
        shape = SHAPES[wid]
        numel = int(np.prod(shape))
        x = torch.from_numpy(xs).reshape(shape).to(DTYPES.get(wid, torch.float32))
        leaf = x.clone().requires_grad_(True)
        with torch.no_grad():
            out = fn(x)
        checks[wid] = float(out.double().mean()) if forward_only else float(out)

        def fwd():
            with torch.no_grad():
                r = fn(x)
            return r

        def fwdgrad():
            leaf.grad = None
            loss = fn(leaf)
            loss.backward()
            return leaf.grad

        results[wid] = {}
        modes = [('fwd', fwd)] + ([] if forward_only else [('fwdgrad', fwdgrad)])
        for mode, call in modes:
            results[wid][mode] = {}
            for n in threads:
                torch.set_num_threads(n)
                samples, load = time_calls(call, budget, min_calls, 2000, warmup, warmup_s)
                results[wid][mode][str(n)] = {**stats(samples, numel), **load}
        leaf.grad = None
        print(f'torch {wid}: ' + ', '.join(
            f"{m} {n}T {r['median']:.2f}" + (f" (other load {r['otherLoad']:.2f})" if r['loaded'] else '')
            for m, byT in results[wid].items() for n, r in byT.items()) + ' ns/elem',
            file=sys.stderr, flush=True)
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), '')
    except OSError:
        pass
    # The SIMD instruction set PyTorch's CPU kernels dispatched to (its 'CPU capability usage'
    # line: AVX2 by default on x86-64, AVX512 only where ATEN_CPU_CAPABILITY asks for it), for
    # comparing lane widths with wasm SIMD128's 4 float32 lanes.
    capability = next((l.split(':', 1)[1].strip() for l in torch.__config__.show().splitlines() if 'CPU capability usage' in l), '')
    doc = {
        'torch': torch.__version__, 'numpy': np.__version__, 'python': platform.python_version(),
        'capability': capability,
        'cpu': cpu, 'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'quick': args.quick, 'threads': threads, 'seconds': round(time.time() - t_start, 1),
        'unit': 'ns per input element (median call time / numel)',
        'results': results, 'losses': checks,
    }
    with open(args.out, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
