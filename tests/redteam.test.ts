// Red-team findings (outside review, 2026-11-30): each `finding` test reproduces one wrong result
// in its smallest form; it failed on the code it was written against (fixed since: the f32 exp's
// coefficients, issue 8) and stays as a regression test; the `held` tests are attacks
// that the library withstood, kept as regression tests. Expected values come from PyTorch 1.13
// (Debian python3-torch) in float64 on the same float32-rounded inputs, unless a test says
// otherwise; the Python that produced each one is quoted beside it.
import * as API from '../src';

// Hostile calls do not type-check, by design: call the API untyped where a test needs that.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const X: any = API;

beforeAll(async () => {
  await API.init();
});

const ULP32 = 2 ** -24; // float32's relative rounding unit

/** |got - expected| / (1 + |expected|), the brief's abs+rel measure. */
const absRel = (got: number, expected: number) => Math.abs(got - expected) / (1 + Math.abs(expected));

// x - max = -3.812 lies next to -5.5 ln 2, the edge of exp's range reduction (|t| ~ ln2 / 2), where
// the f32x4 exp polynomial (assembly/simd.ts expWith, degree 5) is ~100 ulp off although the README
// promises 2 ulp. Likely cause: the decimal coefficients c2..c5 in simd.ts's F32 table are not the
// hex values in their own comments (c4 is 0.04164987802 but 0x1.573A1Ap-5 = 0.0418978221...);
// evaluated in double, the decimal set is -102 ulp at t = -0.3466 and the hex set -1.5 ulp. The
// scalar build (Mathf.exp) is within 0.2 ulp here, so these tests fail on the SIMD build only.
const EDGE_ROW = [0, -3.812, -20, -20, -20, -20, -20, -20];

describe('finding 1: float32 SIMD exp is ~100 ulp off near (k + 1/2) ln 2', () => {
  test('softmax of a float32 row', () => {
    const s = API.softmax({ data: Float32Array.from(EDGE_ROW), shape: [1, 8] });
    // torch.softmax(torch.tensor(EDGE_ROW, dtype=torch.float32).double(), 0)[1]
    const expected = 0.02162590831891297;
    // PyTorch's own float32 softmax gives 0.021625908091664314 (1.3 ulp); today: 0.0216257795... (-100 ulp).
    // The brief's 1e-5 abs+rel bound would pass this (5.9e-6), so the bound is PyTorch float32's.
    expect(Math.abs(s[1] - expected) / expected).toBeLessThan(8 * ULP32);
  });

  test('binaryCrossEntropyWithLogits gradient (sigmoid) at x = -3.812', () => {
    const { grad } = API.binaryCrossEntropyWithLogits(
      { data: new Float32Array(4).fill(-3.812), shape: [4] }, { data: new Float32Array(4), shape: [4] },
      { grad: true, reduction: 'sum' }); // four lanes: a single element takes the scalar tail, which is accurate
    // x = torch.tensor([-3.812], dtype=torch.float32).double().requires_grad_()
    // F.binary_cross_entropy_with_logits(x, torch.zeros(1, dtype=torch.float64), reduction='sum').backward()
    const expected = 0.021625908580575122;
    // PyTorch float32: 0.021625908091664314 (1.4 ulp); today -100 ulp.
    for (const g of grad!) expect(Math.abs(g - expected) / expected).toBeLessThan(8 * ULP32);
  });

  test('distillation gradient (soft targets = student softmax, gradOutput = T*T = 400) beyond 1e-5', () => {
    // The teacher equals the student's softmax (float64, rounded to float32): the gradient is a
    // difference of nearly equal numbers scaled by T*T, so exp's error shows 400-fold.
    const teacher = Float32Array.from([0.9783740639686584, 0.021625908091664314, ...Array(6).fill(2.0165793479520744e-9)]);
    const { grad } = API.crossEntropy({ data: Float32Array.from(EDGE_ROW), shape: [1, 8] }, { data: teacher, shape: [1, 8] },
      { grad: true, gradOutput: 400 });
    // x = torch.tensor([EDGE_ROW], dtype=torch.float64, requires_grad=True) (float32 values)
    // F.cross_entropy(x, teacher.double()[None]).backward(torch.tensor(400.)); x.grad[0, 1]
    const expected = -4.612403187169143e-8;
    // PyTorch float32 gives 2.682209014892578e-7 (abs+rel error 3.1e-7); today ~-5.2e-5.
    expect(absRel(grad![1], expected)).toBeLessThan(1e-5);
  });
});

describe('held', () => {
  test('crossEntropy float64: label smoothing with class weights and ignoreIndex -1, mean', () => {
    // torch.manual_seed(0) draws in /tmp/rt/gen.py, case 'ce ls w ii':
    // F.cross_entropy(x, t, weight=w, ignore_index=-1, label_smoothing=0.3) and its autograd gradient
    const x = [1.2007596492767334, -0.8896715044975281, -2.3329319953918457, 0.7197054624557495, 0.7649426460266113,
      -0.5495198965072632, -0.20343397557735443, 2.3812813758850098, 0.18410040438175201, 0.627545952796936,
      2.099827527999878, 0.7677546143531799, -0.8396379351615906, -0.353604257106781, -0.7989192605018616,
      0.5383884906768799, -0.9527336359024048, 0.4683498442173004, -0.6457521915435791, -1.2702107429504395,
      -0.002266576513648033, 1.2034698724746704, -0.595506489276886, 0.9655671715736389];
    const grad = [0.02862451148642619, -0.011070094980724306, -0.007382530798212499, -0.010171885707489385,
      0.07161073850828202, 0.0018918742469161056, 0.019183680768338932, -0.092686293523537, 0, 0, 0, 0,
      0.018159914401608735, 0.01586053152721487, -0.0716353673897431, 0.03761492146091951, 0, 0, 0, 0,
      0.029675532971962515, -0.07860183860902, 0.008858436580232243, 0.040067869056825224];
    const r = API.crossEntropy({ data: Float64Array.from(x), shape: [6, 4] }, [0, 3, -1, 2, -1, 1],
      { weight: [0.3, 2, 1, 5], ignoreIndex: -1, labelSmoothing: 0.3, grad: true, gradOutput: 1e3 });
    expect(absRel(r.loss as number, 0.8474032716194259)).toBeLessThan(1e-12);
    grad.forEach((g, i) => expect(absRel(r.grad![i], 1e3 * g)).toBeLessThan(1e-12));
  });

  test('a bad target at the end of a long batch throws before out is written', () => {
    const N = 100000, C = 10;
    const x = new Float32Array(N * C).map((_, i) => Math.sin(i));
    const t = new Int32Array(N).fill(1);
    t[N - 1] = 10;
    const out = new Float32Array(N * C).fill(7);
    expect(() => API.crossEntropy({ data: x, shape: [N, C] }, t, { grad: true, out }))
      .toThrow(new RangeError('crossEntropy: Target 10 is out of bounds. (at position [99999]; classes are 0..9, ignoreIndex -100)'));
    expect(out.every((v) => v === 7)).toBe(true);
  });

  test('out aimed at wasm memory outside any wasmArray is refused, and later calls are unharmed', () => {
    const input = () => ({ data: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3] });
    const honest = API.crossEntropy(input(), [0, 1], { grad: true });
    const pinned = API.wasmArray(Float32Array, 4);
    const memory = pinned.array.buffer;
    for (const byteOffset of [0, 1024, pinned.pointer - 64, pinned.pointer + 16]) {
      expect(() => API.crossEntropy(input(), [0, 1], { grad: true, out: new Float32Array(memory, byteOffset, 6) }))
        .toThrow(/^crossEntropy: an array views wasm-xent's memory outside any live wasmArray/);
    }
    pinned.free();
    const after = API.crossEntropy(input(), [0, 1], { grad: true });
    expect(after.loss).toBe(honest.loss);
    expect(Array.from(after.grad!)).toEqual(Array.from(honest.grad!));
  });

  test('3000 rounds of good calls interleaved with bad ones keep wasm memory flat', () => {
    const x = { data: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3] };
    const bad = [
      () => X.crossEntropy(x, [0, 5]),
      () => X.crossEntropy(x, { data: new Float32Array(6).fill(1 / 3), shape: [2, 3] }, { ignoreIndex: 1 }),
      () => X.ctcLoss({ data: new Float32Array(6), shape: [2, 1, 3] }, { data: Int32Array.of(0), shape: [1, 1] }, [2], [1], { grad: true }),
      () => X.crossEntropy({ get data() { throw new RangeError('getter'); }, shape: [2, 3] }, [0, 1]),
      () => X.wasmArray(Float32Array, 1e12),
    ];
    API.crossEntropy(x, [0, 1], { grad: true });
    const before = API.wasmMemoryBytes();
    for (let i = 0; i < 3000; i++) {
      API.crossEntropy(x, [0, 1], { grad: true });
      const a = API.wasmArray(Float64Array, 1 + (i % 37));
      API.softmax({ data: a.array, shape: [a.length] });
      a.free();
      expect(bad[i % bad.length]).toThrow(/^(crossEntropy|ctcLoss|wasmArray): |^getter$/);
    }
    expect(API.wasmMemoryBytes()).toBe(before);
  });
});
