// An edge worker that answers POSTed tensors with the loss and its gradient, computed by wasm-xent.
// Runs unchanged on Cloudflare Workers (Wrangler resolves 'wasm-xent' through the package's
// `workerd` export condition, whose entry imports the .wasm as a module and instantiates it
// synchronously) and on a local `workerd serve` (see serve.mjs).
//
// POST /loss  {"op": "cross_entropy" | "bce_with_logits", "dtype": "float32" | "float64",
//              "input": {"data": [...], "shape": [N, C]}, "target": [...],
//              "options": {"labelSmoothing": 0.1, "weight": [...], "reduction": "mean"}}
//   -> 200 {"loss": number | number[], "grad": number[], "shape": [N, C]}
//   -> 400 {"error": "..."} for input wasm-xent rejects (its TypeError / RangeError message)
// GET /stats  -> {"requests": n, "wasmMemoryBytes": bytes}
// GET /threads -> {"threads": n, "warnings": [...]}: what setThreads('auto') gives here (1: an edge
//                runtime runs one thread per request; wasm-xent warns once and says so)

import { crossEntropy, binaryCrossEntropyWithLogits, wasmMemoryBytes, setThreads } from 'wasm-xent';

let requests = 0;

const ops = {
  cross_entropy: (input, target, options) => crossEntropy(input, target, { ...options, grad: true }),
  // BCE targets are probabilities: sent in the input's float type, as PyTorch wants them.
  bce_with_logits: (input, target, options) =>
    binaryCrossEntropyWithLogits(input, input.data.constructor.from(target), { ...options, grad: true }),
};
const arrays = { float32: Float32Array, float64: Float64Array };

function answer(body) {
  const op = ops[body.op ?? 'cross_entropy'];
  const Arr = arrays[body.dtype ?? 'float32'];
  if (!op) throw new TypeError(`unknown op ${JSON.stringify(body.op)}; expected one of ${Object.keys(ops).join(', ')}`);
  if (!Arr) throw new TypeError(`unknown dtype ${JSON.stringify(body.dtype)}; expected float32 or float64`);
  if (!body.input || !Array.isArray(body.input.data)) throw new TypeError('expected input: {data: number[], shape: number[]}');
  const input = { data: Arr.from(body.input.data), shape: body.input.shape };
  const { loss, grad } = op(input, body.target, body.options ?? {});
  return { loss: typeof loss === 'number' ? loss : Array.from(loss), grad: Array.from(grad), shape: input.shape };
}

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (request.method === 'GET' && pathname === '/stats') return Response.json({ requests, wasmMemoryBytes: wasmMemoryBytes() });
    if (request.method === 'GET' && pathname === '/threads') {
      const warnings = [];
      const warn = console.warn;
      console.warn = (...a) => warnings.push(a.join(' '));
      try {
        return Response.json({ threads: await setThreads('auto'), warnings });
      } finally {
        console.warn = warn;
      }
    }
    if (request.method !== 'POST' || pathname !== '/loss') return new Response('POST tensors to /loss (or GET /stats)\n', { status: 404 });
    requests++;
    let body;
    try {
      body = await request.json();
    } catch {
      return Response.json({ error: 'the body is not JSON' }, { status: 400 });
    }
    try {
      return Response.json(answer(body));
    } catch (e) {
      if (e instanceof TypeError || e instanceof RangeError) return Response.json({ error: e.message }, { status: 400 });
      throw e;
    }
  },
};
