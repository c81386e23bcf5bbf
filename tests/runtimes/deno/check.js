// Run by tests/runtimes/deno.test.ts under Deno: loads wasm-xent (the entry named by argv[0], or the
// package by name), evaluates the cases on stdin, prints the results as JSON.
const X = Deno.args[0] ? await import(Deno.args[0]) : await import('wasm-xent');
await X.init();
const cases = JSON.parse(new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer()));
const results = cases.map((c) => {
  const A = c.dtype === 'float64' ? Float64Array : Float32Array;
  const r = X.crossEntropy({ data: A.from(c.x), shape: c.shape }, c.y, { grad: true, ...c.options });
  return { loss: r.loss, grad: Array.from(r.grad) };
});
// setThreads: Deno gets 1 thread and one warning saying why (its workers are module workers).
const warnings = [];
console.warn = (...a) => warnings.push(a.join(' '));
const threads = [await X.setThreads(2), await X.setThreads('auto')];
console.log(JSON.stringify({ deno: Deno.version.deno, results, threads, warnings }));
