// Build small ONNX models in tests (valid ones and deliberately broken ones).

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { encodeModel } from "../../compiler/onnx/proto.js";
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto, FunctionProto } from "../../compiler/onnx/proto.js";
import type { DType } from "../../ir/dtype.js";
import { DTYPES, isSubByte } from "../../ir/dtype.js";
import { packNibbles, tensorFromValues } from "../../ir/tensor.js";
import { bf16Bits, encodeBytes, f16Bits } from "../../ir/tensor-bytes.js";

export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

export function valueInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, unknown> = {}, name = "", domain = ""): NodeProto {
  const attribute = Object.entries(attrs).map(([key, v]) => {
    if (typeof v === "number" && Number.isInteger(v)) return { name: key, type: 2, i: v };
    if (typeof v === "number") return { name: key, type: 1, f: v };
    if (typeof v === "string") return { name: key, type: 3, s: new TextEncoder().encode(v) };
    if (Array.isArray(v) && v.every((x) => Number.isInteger(x))) return { name: key, type: 7, ints: v as number[] };
    if (Array.isArray(v)) return { name: key, type: 6, floats: v as number[] };
    return { name: key, type: 4, t: v as TensorProto };
  });
  return { opType, input: inputs, output: outputs, attribute, name: name || `${opType}_${outputs[0]}`, domain };
}

export function floatTensor(name: string, dims: number[], values: number[]): TensorProto {
  const raw = new Uint8Array(new Float32Array(values).buffer);
  return { name, dims, dataType: ONNX_FLOAT, rawData: raw };
}

/**
 * An initializer of any dtype from plain values: `raw` writes raw_data (int4 packed two to a
 * byte, f16/bf16 as their bits); `typed` the typed fields (int32_data for the narrow types,
 * one packed byte an entry for int4, as onnx.proto says).
 */
export function typedTensor(name: string, dtype: DType, dims: number[], values: readonly number[], form: "raw" | "typed" = "raw"): TensorProto {
  const dataType = DTYPES[dtype].onnx;
  if (form === "raw") return { name, dims, dataType, rawData: encodeBytes(tensorFromValues(dtype, dims, values)) };
  if (isSubByte(dtype)) return { name, dims, dataType, int32Data: Array.from(packNibbles(values)) };
  if (dtype === "f32") return { name, dims, dataType, floatData: [...values] };
  if (dtype === "f16") return { name, dims, dataType, int32Data: values.map(f16Bits) };
  if (dtype === "bf16") return { name, dims, dataType, int32Data: values.map(bf16Bits) };
  if (dtype === "i64") return { name, dims, dataType, int64Data: [...values] };
  return { name, dims, dataType, int32Data: [...values] };
}

export function int64Tensor(name: string, dims: number[], values: number[]): TensorProto {
  return { name, dims, dataType: ONNX_INT64, int64Data: values };
}

export interface ModelSpec {
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[] | string[];
  initializers?: TensorProto[];
  functions?: FunctionProto[];
  opset?: number;
  extraOpsets?: { domain: string; version: number }[];
  /** Default 8; int4 and opset 21+ need 10. */
  irVersion?: number;
}

export function model(spec: ModelSpec): ModelProto {
  return {
    irVersion: spec.irVersion ?? 8,
    producerName: "tierflow-tests",
    opsetImport: [{ domain: "", version: spec.opset ?? 17 }, ...(spec.extraOpsets ?? [])],
    graph: {
      name: "test",
      node: spec.nodes,
      input: spec.inputs,
      output: spec.outputs.map((o) => (typeof o === "string" ? { name: o } : o)),
      initializer: spec.initializers ?? [],
    },
    functions: spec.functions ?? [],
  };
}

export function writeModel(path: string, m: ModelProto): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodeModel(m));
  return path;
}
