// A strict TypeScript consumer (ES module): no casts. Each annotation is a claim about the types
// that tsc checks; each @ts-expect-error is a call that must not compile.
import { init, initSync, crossEntropy, ctcLoss, nllLoss, binaryCrossEntropyWithLogits, softmax, logSoftmax, oneHot, linearCrossEntropy } from 'wasm-xent';

await init();
initSync();
const logits = { data: new Float32Array([1, 2, 3]), shape: [1, 3] };
const { loss, grad } = crossEntropy(logits, [2], { grad: true });
const scaled: number = loss * 2 * 2; // 'mean' by default: a number
const g: Float32Array = grad; // grad: true: present
const none = crossEntropy(logits, new Int32Array([2]), { reduction: 'none' });
const perPosition: Float32Array = none.loss;
const absent: undefined = none.grad;
const summed: number = nllLoss({ data: logSoftmax(logits), shape: [1, 3] }, [2], { reduction: 'sum' }).loss;
const f64 = crossEntropy({ data: new Float64Array(3), shape: [1, 3] }, { data: [2], shape: [1] }, { out: new Float64Array(3) });
const g64: Float64Array = f64.grad; // out: present, of the input's type
const soft: number = crossEntropy(logits, softmax(logits)).loss;
const bce: number = binaryCrossEntropyWithLogits(logits, [0, 1, 0], { posWeight: [1, 2, 3] }).loss + 1;
const hot: Float32Array = oneHot([2, 0], 3);
const ctc: Float32Array = ctcLoss({ data: new Float32Array(12), shape: [4, 3] }, [1], 4, 1, { grad: true }).grad;
declare const reduction: 'mean' | 'none';
const either: number | Float32Array = crossEntropy(logits, [2], { reduction }).loss;
// linearCrossEntropy's loss narrows as the other losses' do (a strict consumer had to cast it)
const head = { data: new Float32Array(8), shape: [2, 4] };
const vocab = { data: new Float32Array(12), shape: [3, 4] };
const lce = linearCrossEntropy(head, vocab, [1, 2], { grad: true, returnLse: true });
const lceLoss: number = lce.loss + 1;
const lceLse: Float32Array = lce.lse;
const lceNone: Float32Array = linearCrossEntropy(head, vocab, [1, 2], { reduction: 'none' }).loss;
// @ts-expect-error 'none' gives an array, not a number
const lceWrong: number = linearCrossEntropy(head, vocab, [1, 2], { reduction: 'none' }).loss;
// @ts-expect-error a string is not a target
crossEntropy(logits, 'abc');
// @ts-expect-error an unknown reduction
crossEntropy(logits, [2], { reduction: 'avg' });
// @ts-expect-error 'none' gives an array, not a number
const wrong: number = crossEntropy(logits, [2], { reduction: 'none' }).loss;
// @ts-expect-error without grad or out there is no gradient
const missing: Float32Array = crossEntropy(logits, [2]).grad;
export { ctc, scaled, g, perPosition, absent, summed, g64, soft, bce, hot, either, wrong, missing, lceLoss, lceLse, lceNone, lceWrong };
