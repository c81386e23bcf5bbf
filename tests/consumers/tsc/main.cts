// The same package from CommonJS TypeScript: the require condition's declarations.
import { initSync, crossEntropy } from 'wasm-xent';

initSync();
const { loss, grad } = crossEntropy({ data: new Float64Array([1, 2, 3]), shape: [1, 3] }, [2], { grad: true });
const total: number = loss + grad[0];
export = total;
