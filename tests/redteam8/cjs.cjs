// Node CommonJS consumer: as esm.mjs through require, ending with a setThreads(8) never awaited
// (workers still starting when the script's last line runs): the process must still exit.
const X = require('wasm-xent');
import('./work.mjs').then(async ({ problems, sameBits, digest }) => {
  await X.init();
  const run = problems(X);
  const one = run();
  const n = await X.setThreads(2);
  const two = run();
  for (let k = 0; k < 50; k++) if (!sameBits(run(), one)) throw new Error(`call ${k} on 2 threads differs`);
  console.log(`cjs: ${n} threads, same bits: ${sameBits(two, one)}, digest ${digest(one)}`);
  if (!sameBits(two, one)) process.exitCode = 1;
  void X.setThreads(8);
  run();
});
