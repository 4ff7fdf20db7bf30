// Kernel tests for the nn and reduction ops, in three parts: data cases with
// hand-computed outputs (scalars, zero-size tensors, broadcasting, NaN), random
// inputs checked against naive reference loops written here, and a few random
// cases checked against onnxruntime.

import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { lookupKernel } from "../../targets/reference/kernel-table.js";
import type { DType } from "../../ir/dtype.js";
import { DTYPES } from "../../ir/dtype.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { encodeModel } from "../../compiler/onnx/proto.js";
import { seededRandom } from "../../compiler/seeded-random.js";
import { model, node, valueInfo } from "../support/onnx-builder.js";
import type { PlainAttr } from "../support/attrs.js";
import { toAttrs } from "../support/attrs.js";

type Value = number | bigint;
interface TensorCase { dims: number[]; data: Value[]; dtype?: DType }
type AttrValue = PlainAttr;
interface Case {
  name: string;
  op: string;
  attrs?: Record<string, AttrValue>;
  opset?: number;
  inputs: (TensorCase | null)[];
  outputs?: TensorCase[];
  error?: RegExp;
}


const tensor = (t: TensorCase): Tensor => tensorFromValues(t.dtype ?? "f32", t.dims, t.data);

function runKernel(op: string, inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue> = {}, outputCount = 1,
  opset = 17): Tensor[] {
  return lookupKernel("", op)!(inputs, { attrs: toAttrs(attrs), opset, outputCount });
}

function expectClose(actual: Tensor, expected: TensorCase, tol = 1e-5): void {
  expect(actual.dtype).toBe(expected.dtype ?? "f32");
  expect(actual.dims).toEqual(expected.dims);
  const got = Array.from(actual.data as ArrayLike<Value>);
  expect(got.length).toBe(expected.data.length);
  got.forEach((v, i) => {
    const e = expected.data[i]!;
    if (typeof v === "bigint" || typeof e === "bigint") expect(v).toBe(BigInt(e));
    else if (Number.isNaN(e) || !Number.isFinite(e)) expect(v).toBe(e);
    else expect(Math.abs(v - e), `element ${i}: ${v} vs ${e}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
  });
}

const f = (dims: number[], data: Value[], dtype?: DType): TensorCase => (dtype ? { dims, data, dtype } : { dims, data });
const i64 = (dims: number[], data: Value[]): TensorCase => ({ dims, data: data.map((v) => BigInt(v)), dtype: "i64" });
const iota = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);

const CASES: Case[] = [
  // MatMul
  { name: "2-D", op: "MatMul", inputs: [f([2, 3], iota(6)), f([3, 2], iota(6, 7))], outputs: [f([2, 2], [58, 64, 139, 154])] },
  { name: "1-D dot 1-D is a scalar", op: "MatMul", inputs: [f([3], [1, 2, 3]), f([3], [4, 5, 6])], outputs: [f([], [32])] },
  { name: "1-D x 2-D", op: "MatMul", inputs: [f([2], [1, 2]), f([2, 3], iota(6))], outputs: [f([3], [9, 12, 15])] },
  { name: "2-D x 1-D", op: "MatMul", inputs: [f([2, 2], iota(4)), f([2], [1, 1])], outputs: [f([2], [3, 7])] },
  { name: "batch x matrix", op: "MatMul", inputs: [f([2, 1, 2], iota(4)), f([2, 2], [2, 0, 0, 2])], outputs: [f([2, 1, 2], [2, 4, 6, 8])] },
  { name: "batch broadcast both ways", op: "MatMul", inputs: [f([2, 1, 1, 1], [1, 2]), f([3, 1, 1], [1, 10, 100])],
    outputs: [f([2, 3, 1, 1], [1, 10, 100, 2, 20, 200])] },
  { name: "zero rows", op: "MatMul", inputs: [f([0, 3], []), f([3, 2], iota(6))], outputs: [f([0, 2], [])] },
  { name: "zero inner dim gives zeros", op: "MatMul", inputs: [f([2, 0], []), f([0, 3], [])], outputs: [f([2, 3], [0, 0, 0, 0, 0, 0])] },
  { name: "int64 stays exact", op: "MatMul", inputs: [i64([1, 2], [2n ** 40n, 1]), i64([2, 1], [2, 3])], outputs: [i64([1, 1], [2n ** 41n + 3n])] },
  { name: "int64 wraps", op: "MatMul", inputs: [i64([1], [2n ** 62n]), i64([1], [4])], outputs: [i64([], [0])] },
  { name: "int32 wraps", op: "MatMul", inputs: [f([1, 2], [2 ** 30, 2 ** 30], "i32"), f([2, 1], [2, 3], "i32")], outputs: [f([1, 1], [2 ** 30], "i32")] },
  { name: "uint8 wraps", op: "MatMul", inputs: [f([1], [200], "u8"), f([1], [2], "u8")], outputs: [f([], [144], "u8")] },
  { name: "f16 result is rounded", op: "MatMul", inputs: [f([1], [0.0999755859375], "f16"), f([1], [3], "f16")], outputs: [f([], [0.2998046875], "f16")] },
  { name: "inner dims differ", op: "MatMul", inputs: [f([2, 3], iota(6)), f([2, 2], iota(4))], error: /inner dims differ/ },
  { name: "scalar operand", op: "MatMul", inputs: [f([], [1]), f([2], [1, 2])], error: /rank >= 1/ },
  { name: "batch dims clash", op: "MatMul", inputs: [f([2, 1, 1], [1, 2]), f([3, 1, 1], [1, 2, 3])], error: /cannot be broadcast/ },
  { name: "dtypes differ", op: "MatMul", inputs: [f([1], [1]), f([1], [1], "f64")], error: /dtypes f32 and f64/ },
  // Gemm
  { name: "alpha, beta, row C", op: "Gemm", attrs: { alpha: 2, beta: 0.5 }, inputs: [f([2, 3], iota(6)), f([3, 2], iota(6, 7)), f([2], [10, 20])],
    outputs: [f([2, 2], [121, 138, 283, 318])] },
  { name: "transA transB, scalar C", op: "Gemm", attrs: { transA: 1, transB: 1 }, inputs: [f([3, 2], [1, 4, 2, 5, 3, 6]), f([2, 3], [7, 9, 11, 8, 10, 12]), f([], [1])],
    outputs: [f([2, 2], [59, 65, 140, 155])] },
  { name: "bias row C, alpha and beta 1", op: "Gemm", inputs: [f([2, 3], iota(6)), f([3, 2], iota(6, 7)), f([2], [10, 20])],
    outputs: [f([2, 2], [68, 84, 149, 174])] },
  { name: "column C", op: "Gemm", inputs: [f([2, 3], iota(6)), f([3, 2], iota(6, 7)), f([2, 1], [10, 20])], outputs: [f([2, 2], [68, 74, 159, 174])] },
  { name: "zero-size M", op: "Gemm", inputs: [f([0, 3], []), f([3, 2], iota(6)), f([2], [1, 2])], outputs: [f([0, 2], [])] },
  { name: "-0 product with no C is 0", op: "Gemm", inputs: [f([1, 1], [-1]), f([1, 1], [0])], outputs: [f([1, 1], [0])] },
  { name: "no C", op: "Gemm", attrs: { beta: 3 }, inputs: [f([1, 1], [2]), f([1, 1], [3])], outputs: [f([1, 1], [6])] },
  { name: "int64", op: "Gemm", attrs: { alpha: 2 }, inputs: [i64([1, 2], [1, 2]), i64([2, 1], [3, 4]), i64([1, 1], [5])], outputs: [i64([1, 1], [27])] },
  { name: "C does not broadcast", op: "Gemm", inputs: [f([2, 2], iota(4)), f([2, 2], iota(4)), f([3], [1, 2, 3])], error: /does not broadcast/ },
  { name: "not 2-D", op: "Gemm", inputs: [f([4], iota(4)), f([4, 1], iota(4))], error: /must be 2-D/ },
  // Conv
  { name: "2-D valid", op: "Conv", inputs: [f([1, 1, 3, 3], iota(9)), f([1, 1, 2, 2], [1, 1, 1, 1])], outputs: [f([1, 1, 2, 2], [12, 16, 24, 28])] },
  { name: "2-D pads, strides, bias", op: "Conv", attrs: { pads: [1, 1, 1, 1], strides: [2, 2] },
    inputs: [f([1, 1, 3, 3], iota(9)), f([1, 1, 2, 2], [1, 1, 1, 1]), f([1], [0.5])], outputs: [f([1, 1, 2, 2], [1.5, 5.5, 11.5, 28.5])] },
  { name: "1-D", op: "Conv", inputs: [f([1, 1, 5], iota(5)), f([1, 1, 3], [1, 0, -1])], outputs: [f([1, 1, 3], [-2, -2, -2])] },
  { name: "1-D dilated", op: "Conv", attrs: { dilations: [2] }, inputs: [f([1, 1, 5], iota(5)), f([1, 1, 2], [1, 1])], outputs: [f([1, 1, 3], [4, 6, 8])] },
  { name: "SAME_UPPER pads the end", op: "Conv", attrs: { auto_pad: "SAME_UPPER" }, inputs: [f([1, 1, 4], iota(4)), f([1, 1, 2], [1, 1])],
    outputs: [f([1, 1, 4], [3, 5, 7, 4])] },
  { name: "SAME_LOWER pads the start", op: "Conv", attrs: { auto_pad: "SAME_LOWER" }, inputs: [f([1, 1, 4], iota(4)), f([1, 1, 2], [1, 1])],
    outputs: [f([1, 1, 4], [1, 3, 5, 7])] },
  { name: "VALID ignores pads", op: "Conv", attrs: { auto_pad: "VALID", strides: [2] }, inputs: [f([1, 1, 5], iota(5)), f([1, 1, 1], [2])],
    outputs: [f([1, 1, 3], [2, 6, 10])] },
  { name: "depthwise", op: "Conv", attrs: { group: 2 }, inputs: [f([1, 2, 3], [1, 2, 3, 4, 5, 6]), f([2, 1, 2], [1, 1, 1, -1])],
    outputs: [f([1, 2, 2], [3, 5, -1, -1])] },
  { name: "1x1 pointwise", op: "Conv", inputs: [f([1, 2, 1, 2], [1, 2, 3, 4]), f([1, 2, 1, 1], [1, 10])], outputs: [f([1, 1, 1, 2], [31, 42])] },
  { name: "zero batch", op: "Conv", inputs: [f([0, 1, 3, 3], []), f([2, 1, 2, 2], iota(8))], outputs: [f([0, 2, 2, 2], [])] },
  { name: "channel mismatch", op: "Conv", inputs: [f([1, 3, 3], iota(9)), f([1, 2, 1], [1, 1])], error: /3 channels/ },
  { name: "kernel_shape mismatch", op: "Conv", attrs: { kernel_shape: [3] }, inputs: [f([1, 1, 3], iota(3)), f([1, 1, 2], [1, 1])], error: /kernel_shape/ },
  { name: "window larger than input", op: "Conv", inputs: [f([1, 1, 2], [1, 2]), f([1, 1, 3], [1, 1, 1])], error: /larger than the padded input/ },
  { name: "integer input", op: "Conv", inputs: [f([1, 1, 2], [1, 2], "i32"), f([1, 1, 1], [1], "i32")], error: /dtype i32/ },
  // Pooling (expected values cross-checked with onnxruntime 1.30)
  { name: "MaxPool ceil_mode drops a window in the end pad", op: "MaxPool", attrs: { kernel_shape: [2], strides: [2], pads: [0, 1], ceil_mode: 1 },
    inputs: [f([1, 1, 4], iota(4))], outputs: [f([1, 1, 2], [2, 4]), i64([1, 1, 2], [1, 3])] },
  { name: "MaxPool dilated", op: "MaxPool", attrs: { kernel_shape: [2], dilations: [2] }, inputs: [f([1, 1, 5], [1, 5, 2, 4, 3])],
    outputs: [f([1, 1, 3], [2, 5, 3]), i64([1, 1, 3], [2, 1, 4])] },
  { name: "MaxPool indices column-major", op: "MaxPool", attrs: { kernel_shape: [2, 2], storage_order: 1 },
    inputs: [f([1, 2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 11])], outputs: [f([1, 2, 1, 2], [5, 6, 12, 12]), i64([1, 2, 1, 2], [3, 5, 9, 9])] },
  { name: "MaxPool ties take the first", op: "MaxPool", attrs: { kernel_shape: [2, 2], pads: [1, 1, 0, 0] },
    inputs: [f([1, 1, 2, 2], [3, 3, 3, 3])], outputs: [f([1, 1, 2, 2], [3, 3, 3, 3]), i64([1, 1, 2, 2], [0, 0, 0, 0])] },
  { name: "MaxPool NaN propagates", op: "MaxPool", attrs: { kernel_shape: [2] }, inputs: [f([1, 1, 4], [1, NaN, 3, 4])],
    outputs: [f([1, 1, 3], [NaN, NaN, 4]), i64([1, 1, 3], [1, 1, 3])] },
  { name: "MaxPool only padding", op: "MaxPool", attrs: { kernel_shape: [2], dilations: [2], pads: [1, 1] }, inputs: [f([1, 1, 1], [5])],
    error: /covers only padding/ },
  { name: "AveragePool count_include_pad, ceil", op: "AveragePool", attrs: { kernel_shape: [3], strides: [2], pads: [1, 1], ceil_mode: 1, count_include_pad: 1 },
    inputs: [f([1, 1, 6], iota(6))], outputs: [f([1, 1, 4], [1, 3, 5, 3])] },
  { name: "AveragePool excluding pad", op: "AveragePool", attrs: { kernel_shape: [3], strides: [2], pads: [1, 1], ceil_mode: 1 },
    inputs: [f([1, 1, 6], iota(6))], outputs: [f([1, 1, 4], [1.5, 3, 5, 6])] },
  { name: "AveragePool ceil clips the last window", op: "AveragePool", attrs: { kernel_shape: [3], strides: [2], ceil_mode: 1, count_include_pad: 1 },
    inputs: [f([1, 1, 6], iota(6))], outputs: [f([1, 1, 3], [2, 4, 5.5])] },
  { name: "AveragePool 2-D SAME_UPPER", op: "AveragePool", attrs: { kernel_shape: [2, 2], auto_pad: "SAME_UPPER" },
    inputs: [f([1, 1, 2, 2], [1, 2, 3, 4])], outputs: [f([1, 1, 2, 2], [2.5, 3, 3.5, 4])] },
  { name: "pool without kernel_shape", op: "AveragePool", inputs: [f([1, 1, 2], [1, 2])], error: /needs kernel_shape/ },
  { name: "GlobalAveragePool", op: "GlobalAveragePool", inputs: [f([1, 2, 2, 1], [1, 2, 3, 5])], outputs: [f([1, 2, 1, 1], [1.5, 4])] },
  { name: "GlobalAveragePool zero batch", op: "GlobalAveragePool", inputs: [f([0, 2, 3], [])], outputs: [f([0, 2, 1], [])] },
  // Normalisation
  { name: "BatchNormalization", op: "BatchNormalization", attrs: { epsilon: 0 },
    inputs: [f([1, 2, 1, 2], [1, 2, 3, 4]), f([2], [1, 2]), f([2], [0, 1]), f([2], [1, 3]), f([2], [4, 1])], outputs: [f([1, 2, 1, 2], [0, 0.5, 1, 3])] },
  { name: "BatchNormalization training", op: "BatchNormalization", attrs: { training_mode: 1 },
    inputs: [f([1, 1], [1]), f([1], [1]), f([1], [0]), f([1], [0]), f([1], [1])], error: /training mode/ },
  { name: "BatchNormalization wrong channels", op: "BatchNormalization",
    inputs: [f([1, 2], [1, 2]), f([1], [1]), f([2], [0, 0]), f([2], [0, 0]), f([2], [1, 1])], error: /input 1 must have shape \[2\]/ },
  { name: "LayerNormalization with stats", op: "LayerNormalization", attrs: { axis: 1 }, inputs: [f([2, 3], [1, 2, 3, 4, 5, 7]), f([3], [1, 1, 1])],
    outputs: [f([2, 3], [-1.2247356, 0, 1.2247356, -1.0690417, -0.26726052, 1.3363019]), f([2, 1], [2, 5.3333335]), f([2, 1], [1.2247356, 0.80178124])] },
  { name: "LayerNormalization scale and bias broadcast", op: "LayerNormalization", attrs: { axis: 0, epsilon: 0 },
    inputs: [f([2, 2], [1, 1, 3, 3]), f([2], [2, 4]), f([1], [1])], outputs: [f([2, 2], [-1, -3, 3, 5])] },
  { name: "LayerNormalization bad scale", op: "LayerNormalization", inputs: [f([2, 2], iota(4)), f([3], [1, 1, 1])], error: /does not broadcast/ },
  // Softmax
  { name: "Softmax last axis", op: "Softmax", inputs: [f([3], [1, 2, 3])], outputs: [f([3], [0.09003057, 0.24472847, 0.66524096])] },
  { name: "Softmax is shift invariant", op: "Softmax", inputs: [f([2], [1000, 1001])], outputs: [f([2], [0.26894142, 0.73105858])] },
  { name: "Softmax axis 0", op: "Softmax", attrs: { axis: 0 }, inputs: [f([2, 2], [0, 1, 0, 3])], outputs: [f([2, 2], [0.5, 0.11920292, 0.5, 0.88079708])] },
  { name: "Softmax opset 11 coerces to 2-D", op: "Softmax", attrs: { axis: 0 }, opset: 11, inputs: [f([2, 2], [0, 0, 0, 0])],
    outputs: [f([2, 2], [0.25, 0.25, 0.25, 0.25])] },
  { name: "Softmax -Inf is zero", op: "Softmax", inputs: [f([3], [-Infinity, 0, 0])], outputs: [f([3], [0, 0.5, 0.5])] },
  { name: "Softmax +Inf makes the row NaN", op: "Softmax", inputs: [f([2, 2], [Infinity, 0, 0, 0])], outputs: [f([2, 2], [NaN, NaN, 0.5, 0.5])] },
  { name: "Softmax NaN makes the row NaN", op: "Softmax", inputs: [f([2], [NaN, 0])], outputs: [f([2], [NaN, NaN])] },
  { name: "Softmax zero-size", op: "Softmax", inputs: [f([0, 3], [])], outputs: [f([0, 3], [])] },
  { name: "Softmax axis out of range", op: "Softmax", attrs: { axis: 2 }, inputs: [f([2, 2], iota(4))], error: /axis 2 is out of range/ },
  { name: "LogSoftmax", op: "LogSoftmax", inputs: [f([3], [1, 2, 3])], outputs: [f([3], [-2.40760596, -1.40760596, -0.40760596])] },
  { name: "LogSoftmax -Inf stays -Inf", op: "LogSoftmax", inputs: [f([2], [-Infinity, 0])], outputs: [f([2], [-Infinity, 0])] },
  // Reductions
  { name: "ReduceSum axes attribute", op: "ReduceSum", attrs: { axes: [1], keepdims: 0 }, inputs: [f([2, 3], iota(6))], outputs: [f([2], [6, 15])] },
  { name: "ReduceSum axes input", op: "ReduceSum", inputs: [f([2, 3], iota(6)), i64([1], [0])], outputs: [f([1, 3], [5, 7, 9])] },
  { name: "ReduceSum negative axis", op: "ReduceSum", attrs: { keepdims: 0 }, inputs: [f([2, 3], iota(6)), i64([1], [-1])], outputs: [f([2], [6, 15])] },
  { name: "ReduceSum all by default", op: "ReduceSum", inputs: [f([2, 3], iota(6))], outputs: [f([1, 1], [21])] },
  { name: "ReduceSum empty axes means all", op: "ReduceSum", attrs: { keepdims: 0 }, inputs: [f([2, 2], iota(4)), i64([0], [])], outputs: [f([], [10])] },
  { name: "ReduceSum noop_with_empty_axes", op: "ReduceSum", attrs: { keepdims: 0, noop_with_empty_axes: 1 }, inputs: [f([2, 2], iota(4)), i64([0], [])],
    outputs: [f([2, 2], iota(4))] },
  { name: "ReduceSum scalar", op: "ReduceSum", inputs: [f([], [5])], outputs: [f([], [5])] },
  { name: "ReduceSum over a zero-size axis", op: "ReduceSum", inputs: [f([2, 0], []), i64([1], [1])], outputs: [f([2, 1], [0, 0])] },
  { name: "ReduceSum of a zero-size tensor", op: "ReduceSum", attrs: { keepdims: 0 }, inputs: [f([0, 2], []), i64([1], [0])], outputs: [f([2], [0, 0])] },
  { name: "ReduceSum int32 wraps", op: "ReduceSum", attrs: { keepdims: 0 }, inputs: [f([2], [2 ** 31 - 1, 1], "i32")], outputs: [f([], [-(2 ** 31)], "i32")] },
  { name: "ReduceSum int64 wraps", op: "ReduceSum", attrs: { keepdims: 0 }, inputs: [i64([2], [2n ** 62n, 2n ** 62n])], outputs: [i64([], [-(2n ** 63n)])] },
  { name: "ReduceSum axis out of range", op: "ReduceSum", inputs: [f([2], [1, 2]), i64([1], [1])], error: /axis 1 is out of range/ },
  { name: "ReduceMean", op: "ReduceMean", attrs: { axes: [0, 2], keepdims: 0 }, inputs: [f([2, 1, 2], [1, 2, 3, 6])], outputs: [f([1], [3])] },
  { name: "ReduceMean int32 truncates", op: "ReduceMean", attrs: { keepdims: 0 }, inputs: [f([2, 2], [1, 2, -1, -2], "i32"), i64([1], [1])],
    outputs: [f([2], [1, -1], "i32")] },
  { name: "ReduceMean int64 sums exactly", op: "ReduceMean", attrs: { keepdims: 0 }, inputs: [i64([2], [2n ** 62n, 2n ** 62n + 2n])], outputs: [i64([], [2n ** 62n + 1n])] },
  { name: "ReduceMean last axis (row fold)", op: "ReduceMean", attrs: { axes: [-1], keepdims: 1 }, inputs: [f([2, 1, 3], [1, 2, 6, -3, 0, 6])], outputs: [f([2, 1, 1], [3, 1])] },
  { name: "ReduceSum middle axis (column fold)", op: "ReduceSum", attrs: { axes: [1], keepdims: 0 }, inputs: [f([2, 2, 2], iota(8))], outputs: [f([2, 2], [4, 6, 12, 14])] },
  { name: "ReduceMax split axes (general fold)", op: "ReduceMax", attrs: { axes: [0, 2], keepdims: 1 }, inputs: [f([2, 2, 2], [1, 5, 2, 0, 3, 4, 7, 6])], outputs: [f([1, 2, 1], [5, 7])] },
  { name: "ReduceMean over an empty axis", op: "ReduceMean", inputs: [f([2, 0], []), i64([1], [1])], outputs: [f([2, 1], [0, 0])] },
  { name: "ReduceMax NaN propagates", op: "ReduceMax", attrs: { keepdims: 0 }, inputs: [f([2, 2], [1, NaN, 3, 2]), i64([1], [1])], outputs: [f([2], [NaN, 3])] },
  { name: "ReduceMax empty is -Inf", op: "ReduceMax", inputs: [f([2, 0], []), i64([1], [1])], outputs: [f([2, 1], [-Infinity, -Infinity])] },
  { name: "ReduceMax empty int32 is its lowest", op: "ReduceMax", inputs: [f([1, 0], [], "i32"), i64([1], [1])], outputs: [f([1, 1], [-(2 ** 31)], "i32")] },
  { name: "ReduceMin", op: "ReduceMin", attrs: { axes: [0] }, inputs: [f([2, 2], [4, -1, 2, 3])], outputs: [f([1, 2], [2, -1])] },
  { name: "ReduceMin empty is +Inf", op: "ReduceMin", attrs: { keepdims: 0 }, inputs: [f([0], [])], outputs: [f([], [Infinity])] },
  { name: "ReduceMin int64", op: "ReduceMin", attrs: { keepdims: 0 }, inputs: [i64([3], [5, -(2n ** 60n), 7])], outputs: [i64([], [-(2n ** 60n)])] },
  { name: "ReduceProd", op: "ReduceProd", attrs: { axes: [1], keepdims: 0 }, inputs: [f([2, 2], [2, 3, 4, 0.5])], outputs: [f([2], [6, 2])] },
  { name: "ReduceProd empty is 1", op: "ReduceProd", inputs: [f([2, 0], []), i64([1], [1])], outputs: [f([2, 1], [1, 1])] },
  { name: "ReduceProd uint8 wraps", op: "ReduceProd", attrs: { keepdims: 0 }, inputs: [f([2], [16, 17], "u8")], outputs: [f([], [16], "u8")] },
  // ArgMax / ArgMin
  { name: "ArgMax first of ties", op: "ArgMax", attrs: { axis: 1 }, inputs: [f([2, 3], [1, 3, 3, 4, 0, 4])], outputs: [i64([2, 1], [1, 0])] },
  { name: "ArgMax select_last_index", op: "ArgMax", attrs: { axis: 1, select_last_index: 1 }, inputs: [f([2, 3], [1, 3, 3, 4, 0, 4])], outputs: [i64([2, 1], [2, 2])] },
  { name: "ArgMax axis 0 without keepdims", op: "ArgMax", attrs: { keepdims: 0 }, inputs: [f([2, 3], [1, 3, 3, 4, 0, 4])], outputs: [i64([3], [1, 0, 1])] },
  { name: "ArgMax NaN wins", op: "ArgMax", inputs: [f([4], [1, 3, NaN, 3])], outputs: [i64([1], [2])] },
  { name: "ArgMin NaN wins", op: "ArgMin", inputs: [f([4], [1, NaN, 0, 3])], outputs: [i64([1], [1])] },
  { name: "ArgMin int64", op: "ArgMin", attrs: { axis: -1 }, inputs: [i64([2, 2], [5, 2n ** 62n, -(2n ** 62n), 0])], outputs: [i64([2, 1], [0, 0])] },
  { name: "ArgMax zero-size outer", op: "ArgMax", attrs: { axis: 1 }, inputs: [f([0, 3], [])], outputs: [i64([0, 1], [])] },
  { name: "ArgMax empty axis", op: "ArgMax", inputs: [f([0], [])], error: /of size 0/ },
  // TopK
  { name: "TopK largest", op: "TopK", inputs: [f([6], [1, 5, 3, 3, 2, 9]), i64([1], [3])], outputs: [f([3], [9, 5, 3]), i64([3], [5, 1, 2])] },
  { name: "TopK smallest", op: "TopK", attrs: { largest: 0 }, inputs: [f([6], [1, 5, 3, 3, 2, 9]), i64([1], [3])], outputs: [f([3], [1, 2, 3]), i64([3], [0, 4, 2])] },
  { name: "TopK ties by lower index", op: "TopK", inputs: [f([4], [2, 7, 2, 2]), i64([1], [3])], outputs: [f([3], [7, 2, 2]), i64([3], [1, 0, 2])] },
  { name: "TopK axis 0", op: "TopK", attrs: { axis: 0 }, inputs: [f([3, 2], [1, 6, 3, 4, 2, 5]), i64([1], [2])],
    outputs: [f([2, 2], [3, 6, 2, 5]), i64([2, 2], [1, 0, 2, 2])] },
  { name: "TopK NaN leads the largest", op: "TopK", inputs: [f([3], [1, NaN, 3]), i64([1], [2])], outputs: [f([2], [NaN, 3]), i64([2], [1, 2])] },
  { name: "TopK NaN trails the smallest", op: "TopK", attrs: { largest: 0 }, inputs: [f([3], [1, NaN, 3]), i64([1], [2])], outputs: [f([2], [1, 3]), i64([2], [0, 2])] },
  { name: "TopK int64", op: "TopK", inputs: [i64([3], [2n ** 62n, 1, 2n ** 62n + 1n]), i64([1], [1])], outputs: [i64([1], [2n ** 62n + 1n]), i64([1], [2])] },
  { name: "TopK k = 0", op: "TopK", inputs: [f([2, 3], iota(6)), i64([1], [0])], outputs: [f([2, 0], []), i64([2, 0], [])] },
  { name: "TopK k too large", op: "TopK", inputs: [f([3], iota(3)), i64([1], [4])], error: /K=4 is out of range/ },
];

describe("nn and reduction kernels: data cases", () => {
  for (const c of CASES) {
    it(`${c.op}: ${c.name}`, () => {
      const inputs = c.inputs.map((t) => (t ? tensor(t) : undefined));
      const run = () => runKernel(c.op, inputs, c.attrs, c.outputs?.length ?? 1, c.opset);
      if (c.error) {
        expect(run).toThrow(TierflowError);
        expect(run).toThrow(c.error);
        return;
      }
      const outs = run();
      expect(outs.length).toBe(c.outputs!.length);
      outs.forEach((o, i) => expectClose(o, c.outputs![i]!));
    });
  }
});

// ---- random inputs against naive references ----

/** Values in [-1, 1) from the project's seeded generator. */
function rng(seed: number): () => number {
  const next = seededRandom(seed);
  return () => next() * 2 - 1;
}

function random(dims: number[], seed: number, dtype: DType = "f32"): Tensor {
  const next = rng(seed);
  return tensorFromValues(dtype, dims, Array.from({ length: dims.reduce((p, d) => p * d, 1) }, next));
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.dims).toEqual(b.dims);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(Number(a.data[i]!) - Number(b.data[i]!)));
  return m;
}

/** Row-major flat index of `idx` in `dims`, with size-1 dims broadcast. */
const flat = (dims: readonly number[], idx: readonly number[]) =>
  dims.reduce((acc, d, i) => acc * d + (d === 1 ? 0 : idx[idx.length - dims.length + i]!), 0);

function* indices(dims: readonly number[]): Generator<number[]> {
  const total = dims.reduce((p, d) => p * d, 1);
  for (let i = 0; i < total; i++) {
    const idx: number[] = [];
    for (let a = dims.length - 1, r = i; a >= 0; a--) { idx.unshift(r % dims[a]!); r = Math.floor(r / dims[a]!); }
    yield idx;
  }
}

function naiveMatMul(a: Tensor, b: Tensor): Tensor {
  const ad = a.dims.length === 1 ? [1, a.dims[0]!] : [...a.dims], bd = b.dims.length === 1 ? [b.dims[0]!, 1] : [...b.dims];
  const rank = Math.max(ad.length, bd.length);
  const aB = ad.slice(0, -2), bB = bd.slice(0, -2);
  const batch = Array.from({ length: rank - 2 }, (_, i) =>
    Math.max(aB[i - (rank - 2 - aB.length)] ?? 1, bB[i - (rank - 2 - bB.length)] ?? 1));
  const [m, k, n] = [ad[ad.length - 2]!, ad[ad.length - 1]!, bd[bd.length - 1]!];
  const out: number[] = [];
  for (const bi of indices(batch)) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += Number(a.data[flat(ad, [...bi, i, p])]!) * Number(b.data[flat(bd, [...bi, p, j])]!);
        out.push(s);
      }
    }
  }
  const dims = [...batch, ...(a.dims.length > 1 ? [m] : []), ...(b.dims.length > 1 ? [n] : [])];
  return tensorFromValues(a.dtype, dims, out);
}

interface ConvSpec { x: number[]; w: number[]; strides?: number[]; pads?: number[]; dilations?: number[]; group?: number; bias?: boolean }

/** Direct convolution straight from the ONNX definition (explicit pads only). */
function naiveConv(x: Tensor, w: Tensor, b: Tensor | undefined, s: ConvSpec): Tensor {
  const r = x.dims.length - 2, group = s.group ?? 1;
  const strides = s.strides ?? Array(r).fill(1), dil = s.dilations ?? Array(r).fill(1), pads = s.pads ?? Array(2 * r).fill(0);
  const kernel = w.dims.slice(2), cg = w.dims[1]!, m = w.dims[0]!, mg = m / group;
  const outSpatial = x.dims.slice(2).map((d, i) => Math.floor((d + pads[i] + pads[i + r] - dil[i] * (kernel[i]! - 1) - 1) / strides[i]) + 1);
  const dims = [x.dims[0]!, m, ...outSpatial];
  const out: number[] = [];
  for (const [n, oc, ...o] of indices(dims)) {
    let sum = b ? Number(b.data[oc!]!) : 0;
    const g = Math.floor(oc! / mg);
    for (let c = 0; c < cg; c++) {
      for (const kk of indices(kernel)) {
        const pos = o.map((oi, i) => oi * strides[i] - pads[i] + kk[i]! * dil[i]);
        if (pos.some((p, i) => p < 0 || p >= x.dims[i + 2]!)) continue;
        sum += Number(x.data[flat(x.dims, [n!, g * cg + c, ...pos])]!) * Number(w.data[flat(w.dims, [oc!, c, ...kk])]!);
      }
    }
    out.push(sum);
  }
  return tensorFromValues(x.dtype, dims, out);
}

describe("nn kernels against naive references", () => {
  const matmuls: [number[], number[]][] = [
    [[5, 7], [7, 3]], [[17, 33], [33, 19]], [[3, 300], [300, 6]], [[2, 1, 4, 6], [3, 6, 5]], [[6], [3, 6, 2]],
    [[2, 3, 6], [6]], [[1, 1], [1, 9]], [[64, 65], [65, 63]],
  ];
  for (const [i, [da, db]] of matmuls.entries()) {
    it(`MatMul [${da}] x [${db}]`, () => {
      const a = random(da, 10 + i), b = random(db, 20 + i);
      expect(maxAbsDiff(runKernel("MatMul", [a, b])[0]!, naiveMatMul(a, b))).toBeLessThanOrEqual(1e-4);
      const a64 = random(da, 10 + i, "f64"), b64 = random(db, 20 + i, "f64");
      expect(maxAbsDiff(runKernel("MatMul", [a64, b64])[0]!, naiveMatMul(a64, b64))).toBeLessThanOrEqual(1e-12);
    });
  }

  it("MatMul int32 and int64 agree with the float reference on small values", () => {
    const ints = (dims: number[], seed: number, dtype: DType) => {
      const r = rng(seed);
      return tensorFromValues(dtype, dims, Array.from({ length: dims.reduce((p, d) => p * d, 1) }, () => Math.round(r() * 50)));
    };
    for (const dtype of ["i32", "i64", "i16"] as DType[]) {
      const a = ints([2, 3, 5], 1, dtype), b = ints([5, 4], 2, dtype);
      expect(maxAbsDiff(runKernel("MatMul", [a, b])[0]!, naiveMatMul(a, b))).toBe(0);
    }
  });

  for (const [m, ta, tb] of [[7, 0, 0], [7, 1, 0], [7, 0, 1], [7, 1, 1], [2, 1, 0], [2, 0, 1]] as [number, number, number][]) {
    it(`Gemm M=${m} transA=${ta} transB=${tb}`, () => {
      const [k, n] = [11, 5];
      const a = random(ta ? [k, m] : [m, k], 1), b = random(tb ? [n, k] : [k, n], 2), c = random([n], 3);
      const t = (x: Tensor) => runKernel("Transpose", [x], { perm: [1, 0] })[0]!;
      const prod = naiveMatMul(ta ? t(a) : a, tb ? t(b) : b);
      const expected = tensorFromValues("f32", [m, n], Array.from(prod.data as Float32Array, (v, i) => 0.5 * v + 2 * (c.data as Float32Array)[i % n]!));
      const got = runKernel("Gemm", [a, b, c], { alpha: 0.5, beta: 2, transA: ta, transB: tb })[0]!;
      expect(maxAbsDiff(got, expected)).toBeLessThanOrEqual(1e-4);
    });
  }

  const convs: ConvSpec[] = [
    { x: [2, 3, 9, 8], w: [4, 3, 3, 3], bias: true },
    { x: [1, 4, 10, 10], w: [6, 2, 3, 2], group: 2, strides: [2, 1], pads: [1, 0, 2, 1], dilations: [1, 2] },
    { x: [1, 8, 7, 7], w: [8, 1, 3, 3], group: 8, pads: [1, 1, 1, 1], bias: true },
    { x: [1, 4, 7, 7], w: [8, 1, 3, 3], group: 4, strides: [2, 2] },
    { x: [2, 5, 6, 6], w: [3, 5, 1, 1], bias: true },
    { x: [1, 5, 6, 6], w: [3, 5, 1, 1], strides: [2, 2] },
    { x: [2, 3, 20], w: [5, 3, 4], strides: [3], pads: [2, 1], dilations: [2], bias: true },
    { x: [1, 2, 4, 5, 6], w: [3, 2, 2, 3, 2], pads: [1, 0, 1, 0, 1, 1], strides: [1, 2, 2] },
    { x: [1, 16, 8, 8], w: [32, 16, 3, 3], pads: [1, 1, 1, 1] },
  ];
  for (const [i, s] of convs.entries()) {
    it(`Conv X [${s.x}] W [${s.w}] group ${s.group ?? 1}`, () => {
      const x = random(s.x, 100 + i), w = random(s.w, 200 + i), b = s.bias ? random([s.w[0]!], 300 + i) : undefined;
      const attrs: Record<string, AttrValue> = { group: s.group ?? 1 };
      if (s.strides) attrs.strides = s.strides;
      if (s.pads) attrs.pads = s.pads;
      if (s.dilations) attrs.dilations = s.dilations;
      expect(maxAbsDiff(runKernel("Conv", [x, w, b], attrs)[0]!, naiveConv(x, w, b, s))).toBeLessThanOrEqual(1e-4);
    });
  }
});

// ---- random cases against onnxruntime ----

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = { f32: "float32", i64: "int64" };

async function runOrt(op: string, inputs: Tensor[], attrs: Record<string, AttrValue>, outputCount: number, opset = 19): Promise<Tensor[]> {
  const names = inputs.map((_, i) => `x${i}`), outs = Array.from({ length: outputCount }, (_, i) => `y${i}`);
  const m = model({
    nodes: [node(op, names, outs, attrs)], opset, outputs: outs,
    inputs: inputs.map((t, i) => valueInfo(names[i]!, DTYPES[t.dtype].onnx, [...t.dims])),
  });
  const session = await ort.InferenceSession.create(encodeModel(m));
  const feeds = Object.fromEntries(inputs.map((t, i) => [names[i]!, new ort.Tensor(ORT_TYPE[t.dtype]!, t.data as Float32Array, [...t.dims])]));
  const result = await session.run(feeds);
  return outs.map((o) => {
    const r = result[o]!;
    const dims = r.dims.map(Number);
    return r.type === "int64" ? tensorFromValues("i64", dims, r.data as BigInt64Array) : tensorFromValues("f32", dims, r.data as Float32Array);
  });
}

describe("nn kernels against onnxruntime", () => {
  const cases: { op: string; inputs: Tensor[]; attrs: Record<string, AttrValue>; outputs?: number }[] = [
    { op: "Conv", inputs: [random([1, 3, 9, 9], 1), random([4, 3, 3, 3], 2), random([4], 3)], attrs: { auto_pad: "SAME_UPPER", strides: [2, 2] } },
    { op: "Conv", inputs: [random([1, 4, 8, 7], 4), random([4, 1, 3, 3], 5)], attrs: { auto_pad: "SAME_LOWER", group: 4, strides: [2, 1] } },
    { op: "MaxPool", inputs: [random([2, 3, 7, 6], 6)], attrs: { kernel_shape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1], ceil_mode: 1 }, outputs: 2 },
    { op: "MaxPool", inputs: [random([1, 2, 5, 5, 4], 7)], attrs: { kernel_shape: [2, 2, 2], dilations: [2, 1, 2] }, outputs: 2 },
    { op: "AveragePool", inputs: [random([2, 2, 7, 7], 8)], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
    { op: "AveragePool", inputs: [random([1, 3, 6, 5], 9)], attrs: { kernel_shape: [3, 2], pads: [1, 1, 1, 0], count_include_pad: 1 } },
    { op: "AveragePool", inputs: [random([1, 2, 9], 10)], attrs: { kernel_shape: [4], strides: [3], auto_pad: "SAME_UPPER" } },
    { op: "LayerNormalization", inputs: [random([2, 3, 8], 11), random([3, 8], 12), random([8], 13)], attrs: { axis: 1 }, outputs: 3 },
    { op: "Softmax", inputs: [random([3, 4, 5], 14)], attrs: { axis: 1 } },
    { op: "LogSoftmax", inputs: [random([3, 4, 5], 15)], attrs: {} },
    { op: "Gemm", inputs: [random([6, 4], 16), random([5, 6], 17), random([4, 1], 18)], attrs: { transA: 1, transB: 1, alpha: 0.25, beta: 1.5 } },
    { op: "ReduceMean", inputs: [random([3, 4, 5], 19), tensorFromValues("i64", [2], [0, 2])], attrs: { keepdims: 0 } },
    { op: "TopK", inputs: [random([4, 9], 20), tensorFromValues("i64", [1], [4])], attrs: { axis: 1, largest: 0 }, outputs: 2 },
  ];
  for (const c of cases) {
    it(`${c.op} ${JSON.stringify(c.attrs)}`, async () => {
      const outputCount = c.outputs ?? 1;
      const expected = await runOrt(c.op, c.inputs, c.attrs, outputCount);
      const got = runKernel(c.op, c.inputs, c.attrs, outputCount, 19);
      got.forEach((g, i) => expect(maxAbsDiff(g, expected[i]!)).toBeLessThanOrEqual(1e-5));
    });
  }
});
