// A Jest user's test, CommonJS as Jest runs it without a transform.
const { init, crossEntropy } = require('wasm-xent');

test('crossEntropy under Jest', async () => {
  await init();
  const { loss, grad } = crossEntropy({ data: new Float32Array([1, 2, 3]), shape: [1, 3] }, [2], { grad: true });
  console.log(JSON.stringify({ env: typeof document === 'undefined' ? 'node' : 'jsdom', loss, grad: Array.from(grad) }));
});
