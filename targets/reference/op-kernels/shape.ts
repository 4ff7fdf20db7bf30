// Reference kernels of the shape ops (ir/graph/ops/shape.ts): Identity, Dropout,
// the casts, Shape, Size, the reshapes, Expand, ConstantOfShape and Constant.

import { fail } from "../../../ir/diagnostics.js";
import { dtypeFromOnnx } from "../../../ir/dtype.js";
import { makeTensor, tensorFromValues, valuesAsNumbers } from "../../../ir/tensor.js";
import { intAttr, intsAttr, normalizeAxis } from "../../../ir/graph/ops/util.js";
import { checkNotTraining, constantOfShapeValue, constantValue } from "../../../ir/graph/ops/shape.js";
import { castTensor } from "../kernels/cast.js";
import { expandKernel, reshapeKernel } from "../kernels/layout.js";
import type { OpKernel } from "./op-kernel.js";

export const SHAPE_KERNELS: Readonly<Record<string, OpKernel>> = {
  Identity: ([x]) => [x!],
  Dropout: ([x, ratio, training], { outputCount }) => {
    checkNotTraining(training, ratio);
    return [x!, makeTensor("bool", x!.dims, new Uint8Array(x!.data.length).fill(1))].slice(0, outputCount);
  },
  Cast: ([x], { attrs }) => [castTensor(x!, dtypeFromOnnx(intAttr(attrs, "to", 1))!)],
  CastLike: ([x, like]) => [castTensor(x!, like!.dtype)],
  Shape: ([x], { attrs }) => {
    const rank = x!.dims.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const start = clamp(intAttr(attrs, "start", 0)), end = clamp(attrs.end ? intAttr(attrs, "end", rank) : rank);
    const dims = x!.dims.slice(start, Math.max(start, end));
    return [tensorFromValues("i64", [dims.length], dims)];
  },
  Size: ([x]) => [tensorFromValues("i64", [], [x!.data.length])],
  Reshape: ([x, shape], { attrs }) => {
    const requested = valuesAsNumbers(shape!);
    const allowZero = intAttr(attrs, "allowzero", 0) === 1;
    const dims = requested.map((d, i) => (d === 0 && !allowZero ? x!.dims[i]! : d));
    const at = dims.indexOf(-1);
    if (at >= 0) dims[at] = x!.data.length / dims.filter((_, i) => i !== at).reduce((p, d) => p * d, 1);
    return [reshapeKernel(x!, dims)];
  },
  Flatten: ([x], { attrs }) => {
    const rank = x!.dims.length;
    let axis = intAttr(attrs, "axis", 1);
    if (axis < 0) axis += rank;
    // Both products from the dims: dividing the element count would lose the trailing size of zero-size tensors.
    const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);
    return [reshapeKernel(x!, [product(x!.dims.slice(0, axis)), product(x!.dims.slice(axis))])];
  },
  Squeeze: ([x, axesT], { attrs }) => {
    const rank = x!.dims.length;
    const axes = (intsAttr(attrs, "axes") ?? (axesT ? valuesAsNumbers(axesT) : undefined))?.map((a) => normalizeAxis(a, rank));
    for (const a of axes ?? []) if (x!.dims[a] !== 1) fail(`cannot squeeze axis ${a} of size ${x!.dims[a]}`);
    return [reshapeKernel(x!, x!.dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)))];
  },
  Unsqueeze: ([x, axesT], { attrs }) => {
    const axes = intsAttr(attrs, "axes") ?? valuesAsNumbers(axesT!);
    const rank = x!.dims.length + axes.length;
    const norm = axes.map((a) => normalizeAxis(a, rank));
    if (new Set(norm).size !== norm.length) fail("Unsqueeze axes repeat");
    const out: number[] = [];
    let src = 0;
    for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : x!.dims[src++]!);
    return [reshapeKernel(x!, out)];
  },
  Expand: ([x, shape]) => [expandKernel(x!, valuesAsNumbers(shape!))],
  ConstantOfShape: ([shape], { attrs }) => {
    const value = constantOfShapeValue(attrs);
    const out = makeTensor(value.dtype, valuesAsNumbers(shape!));
    (out.data as unknown as { fill(v: number | bigint): void }).fill(value.data[0]!);
    return [out];
  },
  Constant: (_, { attrs }) => [constantValue(attrs)],
};
