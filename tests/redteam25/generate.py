# Red team 25: oracle for tests/redteam25.test.ts (run: /usr/bin/python3 tests/redteam25/generate.py). ctcLoss cases ('cases'): exact posteriors by enumerating
# every alignment in mpmath (60 digits) on the exact (float32-rounded where f32) log-probabilities,
# plus PyTorch 1.13 float64 autograd. Writes tests/redteam25/cases.json.
# focalLoss rows ('focal'): 60-digit mpmath loss and gradient. crossEntropy / linearCrossEntropy confident
# rows ('ce'): mpmath log S and 1/S - 1, torch float64 cross_entropy loss and grad[0].
import itertools, json, os
import numpy as np, torch, mpmath
mpmath.mp.dps = 60
HERE = os.path.dirname(os.path.abspath(__file__))

import sys
sys.path.insert(0, os.path.join(HERE, '..', 'redteam24'))
from ctc_oracle import js, collapse, mp_ctc, torch_ctc, mp_ctc_fb, ctc_entry  # red team 24's oracle

cases = []
def ctc_case(name, dtype, lp, target):
    cases.append(ctc_entry(name, dtype, lp, target, 100000))

# F1: repeated labels force blank-separated alignments through masked emissions of different sizes
M = -3.4e38
ctc_case('f64 T3 [1,1] -1e20 -1e20 -3e20', 'f64', [[0, -1e20], [-1e20, 0], [0, -3e20]], [1, 1])
ctc_case('f64 T3 [1,1] -1e16-16 -3e16 -7e15-8', 'f64', [[0, -1e16 - 16], [-3e16, 0], [0, -7e15 - 8]], [1, 1])
ctc_case('f32 T3 [1,1] -1e20 -3.4e38 -3.4e38', 'f32', [[0, -1e20], [M, 0], [0, M]], [1, 1])
ctc_case('f32 T3 [1,1] -1e20 -1e20 -1.2345e25', 'f32', [[0, -1e20], [-1e20, 0], [0, -1.2345e25]], [1, 1])
ctc_case('f64 T3 [1,1] -1e20 -3e20 -7e19', 'f64', [[0, -1e20], [-3e20, 0], [0, -7e19]], [1, 1])
ctc_case('f32 T3 [1,1] -1e20 -3e20 -7e19', 'f32', [[0, -1e20], [-3e20, 0], [0, -7e19]], [1, 1])
# random masked frames (no forced alignment; [2, 1] has no repeat)
ctc_case('f32 T5 random masks target [1, 2]', 'f32', [[-100000002004087730000, -2.138484001159668, -0.9519197940826416], [-0.4664309620857239, -3.3999999521443642e+38, -100000002004087730000], [-1.9481974840164185, -3.192786693572998, -1.1428741216659546], [-3.3999999521443642e+38, -0.08150281757116318, -3.3999999521443642e+38], [-0.013186153955757618, -0.04042558744549751, -3.3999999521443642e+38]], [1, 2])
ctc_case('f32 T5 random masks target [2, 1]', 'f32', [[-0.4854399561882019, -500000010020438700000, -0.12720683217048645], [-0.013655902817845345, -699999978844242000000, -0.26955467462539673], [-600000012024526400000, -0.059327688068151474, -300000006012263200000], [-0.980880856513977, -100000002004087730000, -3.3999999521443642e+38], [-699999978844242000000, -0.4556369185447693, -0.2155614197254181]], [2, 1])
# realistic: T = 40, C = 5, float32 log_softmax of logits with 15% set to -1e20 (a masked vocabulary),
# target of 8 labels (tests/redteam25/t40.json, drawn by a seeded LCG)
t40 = json.load(open(os.path.join(HERE, 't40.json')))
ctc_case('f32 T40 C5 log_softmax masks', 'f32', t40['rows'], t40['tg'])
# longer: T = 8, C = 3, target [1, 1, 2, 2], masks -1e20 (f32) on a few frames' classes
l3 = float(np.log(1 / 3))
rows = [[l3, l3, l3] for _ in range(8)]
rows[1] = [-1e20, 0.0, -1e20]; rows[2] = [0.0, -1e20, -1e20]; rows[4] = [-1e20, -1e20, 0.0]; rows[5] = [0.0, -3.4e38, -3.4e38]
ctc_case('f32 T8 [1,1,2,2] masked frames', 'f32', rows, [1, 1, 2, 2])
with open(os.path.join(HERE, 'cases.json'), 'w') as f: json.dump({'cases': cases}, f)
print(len(cases), 'cases')
for c in cases: print(c['name'], c['want']['mpLoss'], c['want']['mpGrad'][:6], c['want']['torchGrad'][:6])
