// Reference kernels of the elementwise ops (ir/graph/ops/elementwise.ts): unary
// math, binary arithmetic with broadcasting, comparisons, logic, Where, Clip,
// Pow and the hard activations.

import { isFloat } from "../../../ir/dtype.js";
import type { Tensor } from "../../../ir/tensor.js";
import { floatAttr } from "../../../ir/graph/ops/util.js";
import { isBigTensor } from "../kernels/broadcast.js";
import { castTensor } from "../kernels/cast.js";
import type { BinaryOpName, UnaryOpName } from "../kernels/pointwise.js";
import { binaryOp, unaryOp, whereOp } from "../kernels/pointwise.js";
import type { OpKernel } from "./op-kernel.js";

const unary = (op: UnaryOpName): OpKernel => ([x]) => [unaryOp(op, x!)];
const binary = (op: BinaryOpName): OpKernel => ([a, b]) => [binaryOp(op, a!, b!, a!.dtype)];
const compare = (op: BinaryOpName): OpKernel => ([a, b]) => [binaryOp(op, a!, b!, "bool")];
const variadic = (pairwise: BinaryOpName): OpKernel => (inputs) => [(inputs as Tensor[]).reduce((acc, t) => binaryOp(pairwise, acc, t, acc.dtype))];

const asF64 = (t: Tensor): Tensor => ({ dtype: "f64", dims: t.dims, data: Float64Array.from(t.data as ArrayLike<number | bigint>, Number) });

function pow(base: Tensor, exponent: Tensor): Tensor {
  if (isBigTensor(base)) {
    // int64 bases stay exact in BigInt for integer exponents; a float exponent goes through f64.
    if (isFloat(exponent.dtype)) return castTensor(binaryOp("Pow", asF64(base), exponent, "f64"), base.dtype);
    const e = isBigTensor(exponent) ? exponent : castTensor(exponent, "i64");
    return binaryOp("Pow", base, e, base.dtype);
  }
  if (isFloat(base.dtype) && exponent.data.length === 1 && exponent.dims.every((d) => d === 1) && exponent.dims.length <= base.dims.length) {
    // A scalar 2 or 3 (RMSNorm's and tanh-Gelu's powers) multiplies, as onnxruntime does.
    const e = Number(exponent.data[0]!);
    if (e === 2) return unaryOp("Square", base);
    if (e === 3) return unaryOp("Cube", base);
  }
  // Number storage (float or int exponents) is read as is; an int64 exponent goes through f64.
  return binaryOp("Pow", base, isBigTensor(exponent) ? asF64(exponent) : exponent, base.dtype);
}

function clip(x: Tensor, lo: Tensor | undefined, hi: Tensor | undefined): Tensor {
  // Missing bounds are -+Infinity, which compare as never binding for numbers and bigints alike.
  return unaryOp("Clip", x, x.dtype, lo ? lo.data[0]! : -Infinity, hi ? hi.data[0]! : Infinity);
}

const UNARY: readonly UnaryOpName[] = ["Sqrt", "Reciprocal", "Exp", "Log", "Erf", "Tanh", "Sigmoid", "Sin", "Cos", "Floor", "Ceil",
  "Relu", "Neg", "Abs", "Not", "HardSwish"];
const BINARY: readonly BinaryOpName[] = ["Add", "Sub", "Mul", "Div"];
const COMPARE: readonly BinaryOpName[] = ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor"];

export const ELEMENTWISE_KERNELS: Readonly<Record<string, OpKernel>> = {
  ...Object.fromEntries(UNARY.map((op) => [op, unary(op)])),
  ...Object.fromEntries(BINARY.map((op) => [op, binary(op)])),
  ...Object.fromEntries(COMPARE.map((op) => [op, compare(op)])),
  HardSigmoid: ([x], { attrs }) => {
    const alpha = floatAttr(attrs, "alpha", 0.2), beta = floatAttr(attrs, "beta", 0.5);
    return [unaryOp("HardSigmoid", x!, x!.dtype, alpha, beta)];
  },
  Pow: ([x, y]) => [pow(x!, y!)],
  Max: variadic("Max"),
  Min: variadic("Min"),
  Sum: variadic("Add"),
  Where: ([c, x, y]) => [whereOp(c!, x!, y!)],
  Clip: ([x, lo, hi]) => [clip(x!, lo, hi)],
};
