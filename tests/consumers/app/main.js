// The consumer: what a user writes, the same for every bundler (and for none). It computes the
// seed example and hands the result to the test: window.RESULT in a page, stdout in Node.
import { init, crossEntropy, wasmBuild } from 'wasm-xent';

async function main() {
  await init();
  const { loss, grad } = crossEntropy({ data: new Float32Array([1, 2, 3]), shape: [1, 3] }, [2], { grad: true });
  return { loss, grad: Array.from(grad), build: wasmBuild() };
}

const inPage = typeof document !== 'undefined';
main().then(
  (result) => (inPage ? (window.RESULT = result) : console.log(JSON.stringify(result))),
  (error) => {
    if (!inPage) throw error; // an unhandled rejection: Node exits with an error
    window.RESULT = { error: String(error) };
  },
);
