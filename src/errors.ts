// Every error wasm-xent throws is built here: the function's name in front, PyTorch's words after.

export type ErrorClass = new (message: string) => Error;

/** Throws `Kind("<fn>: <message>")`. */
export function fail(fn: string, message: string, Kind: ErrorClass = Error): never {
  throw new Kind(`${fn}: ${message}`);
}

/** Formats a shape the way PyTorch prints it: [2, 3]. */
export function showShape(shape: ArrayLike<number>): string {
  // Long shapes are cut: a message stays readable whatever the caller passed.
  const n = shape.length;
  const shown = Array.from({ length: Math.min(n, 8) }, (_, i) => shape[i]);
  return `[${shown.join(', ')}${n > 8 ? `, ... (${n} dims)` : ''}]`;
}
