// A tiny protobuf encoder for the few ONNX messages a one-node model needs (ModelProto, GraphProto,
// NodeProto, AttributeProto, ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto).
// Field numbers follow onnx/onnx.proto (IR version 7 pairs with opset 13). No onnx package needed.

const enc = new TextEncoder();

/** Element types of TensorProto.DataType. */
export const FLOAT = 1;
export const UINT8 = 2;
export const INT32 = 6;
export const INT64 = 7;

function varint(value) {
  // Non-negative integers up to 2^53; int64 fields here are never negative.
  const out = [];
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n; // two's complement, as protobuf encodes negative int64 (10 bytes)
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

const tag = (field, wire) => varint((field << 3) | wire);

/** A message is an array of bytes; these append one field each. */
const fInt = (field, value) => [...tag(field, 0), ...varint(value)];
const fBytes = (field, bytes) => [...tag(field, 2), ...varint(bytes.length), ...bytes];
const fStr = (field, s) => fBytes(field, [...enc.encode(s)]);
const fMsg = (field, msg) => fBytes(field, msg);

const AttributeType = { FLOAT: 1, INT: 2, STRING: 3 };

function attribute(name, value) {
  if (typeof value === 'string') return [...fStr(1, name), ...fBytes(4, [...enc.encode(value)]), ...fInt(20, AttributeType.STRING)];
  if (Number.isInteger(value)) return [...fStr(1, name), ...fInt(3, value), ...fInt(20, AttributeType.INT)];
  throw new TypeError(`attribute ${name}: unsupported value ${value}`);
}

function valueInfo(name, elemType, shape) {
  const dims = shape.flatMap((d) => fMsg(1, typeof d === 'number' ? fInt(1, d) : fStr(2, d)));
  const tensorType = [...fInt(1, elemType), ...fMsg(2, dims)];
  const typeProto = fMsg(1, tensorType);
  return [...fStr(1, name), ...fMsg(2, typeProto)];
}

/**
 * A one-node ONNX model.
 * @param {object} spec
 * @param {string} spec.opType e.g. 'SoftmaxCrossEntropyLoss'
 * @param {{name: string, type: number, shape: (number|string)[]}[]} spec.inputs graph inputs, in node order
 * @param {{name: string, type: number, shape: (number|string)[]}[]} spec.outputs graph outputs, in node order
 * @param {Record<string, number|string>} [spec.attributes]
 * @param {number} [spec.opset] default 13
 * @returns {Uint8Array} the serialised ModelProto
 */
export function oneNodeModel({ opType, inputs, outputs, attributes = {}, opset = 13 }) {
  const node = [
    ...inputs.flatMap((v) => fStr(1, v.name)),
    ...outputs.flatMap((v) => fStr(2, v.name)),
    ...fStr(3, `${opType}_0`),
    ...fStr(4, opType),
    ...Object.entries(attributes).flatMap(([k, v]) => fMsg(5, attribute(k, v))),
  ];
  const graph = [
    ...fMsg(1, node),
    ...fStr(2, 'wasm_xent_bench'),
    ...inputs.flatMap((v) => fMsg(11, valueInfo(v.name, v.type, v.shape))),
    ...outputs.flatMap((v) => fMsg(12, valueInfo(v.name, v.type, v.shape))),
  ];
  const model = [
    ...fInt(1, opset >= 13 ? 7 : 6), // ir_version
    ...fStr(2, 'wasm-xent bench'), // producer_name
    ...fMsg(7, graph),
    ...fMsg(8, [...fStr(1, ''), ...fInt(2, opset)]), // opset_import (default domain)
  ];
  return Uint8Array.from(model);
}

/** SoftmaxCrossEntropyLoss (opset 13): scores [N, C, d...], labels [N, d...], optional weights [C]. */
export function softmaxCrossEntropyModel({ shape, labelType = INT64, weights = false, ignoreIndex, reduction = 'mean' }) {
  const labelShape = [shape[0], ...shape.slice(2)];
  const inputs = [
    { name: 'scores', type: FLOAT, shape },
    { name: 'labels', type: labelType, shape: labelShape },
  ];
  if (weights) inputs.push({ name: 'weights', type: FLOAT, shape: [shape[1]] });
  const attributes = { reduction };
  if (ignoreIndex !== undefined) attributes.ignore_index = ignoreIndex;
  return oneNodeModel({
    opType: 'SoftmaxCrossEntropyLoss',
    inputs,
    outputs: [{ name: 'loss', type: FLOAT, shape: reduction === 'none' ? labelShape : [] }],
    attributes,
  });
}

/** LogSoftmax (opset 13) along `axis`. */
export function logSoftmaxModel({ shape, axis = -1 }) {
  return oneNodeModel({
    opType: 'LogSoftmax',
    inputs: [{ name: 'x', type: FLOAT, shape }],
    outputs: [{ name: 'y', type: FLOAT, shape }],
    attributes: { axis },
  });
}
