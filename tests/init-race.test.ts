// init() still pending when initSync() installs the module (issue 8): the pending init must not
// replace the module when it resolves (the workspace, wasmBuild and live wasmArrays stay).
import * as X from '../src';

test('a pending init() resolving after initSync() keeps the first module', async () => {
  expect(X.wasmBuild()).toBeNull();
  const pending = X.init();
  X.initSync();
  const build = X.wasmBuild();
  const a = X.wasmArray(Float32Array, 6);
  a.array.set([1, 2, 3, 1, 2, 3]);
  const view = a.array;
  await pending;
  expect(X.wasmBuild()).toBe(build);
  expect(a.array).toBe(view); // the same memory: nothing was replaced
  const viaPinned = X.softmax({ data: a.array, shape: [2, 3] });
  expect(Array.from(viaPinned)).toEqual(Array.from(X.softmax({ data: Float32Array.from([1, 2, 3, 1, 2, 3]), shape: [2, 3] })));
  a.free();
});
