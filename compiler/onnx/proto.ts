// The one module that touches onnx-proto (protobufjs-generated, CommonJS).
// It decodes ModelProto bytes and turns protobuf failures into diagnostics.

import onnxProto from "onnx-proto";
import { TierflowError } from "../../ir/diagnostics.js";

export const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.IModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type FunctionProto = onnxProto.onnx.IFunctionProto;

/** A protobuf int64 (Long, number or null) as a JS number; throws if it is not a safe integer. */
export function toNumber(v: unknown, what: string): number {
  if (v === null || v === undefined) return 0;
  const n = typeof v === "number" ? v : Number(String(v));
  if (!Number.isSafeInteger(n)) throw new TierflowError(`${what} ${String(v)} is out of range`);
  return n;
}

/** A protobuf int64 exactly, as a bigint. */
export function toBigInt(v: unknown): bigint {
  return typeof v === "number" ? BigInt(v) : BigInt(String(v));
}

/** Decode ModelProto bytes; any protobuf failure becomes a one-line diagnostic. */
export function decodeModel(bytes: Uint8Array, file: string): ModelProto {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const what = /index out of range/.test(reason) ? "truncated protobuf" : "not an ONNX model";
    throw new TierflowError(`${what} (${reason})`, { file });
  }
  if (!model.graph) throw new TierflowError("not an ONNX model (it has no graph)", { file });
  if (toNumber(model.irVersion, "ir_version") <= 0) {
    throw new TierflowError("not an ONNX model (ir_version is missing)", { file });
  }
  return model;
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model as Record<string, unknown>)).finish();
}
