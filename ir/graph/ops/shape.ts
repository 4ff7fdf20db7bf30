// Ops that compute or change shapes. Their inference also propagates the
// elements of small int tensors as dims (SymbolicValue), which is how exported
// Shape -> Gather -> Concat -> Reshape chains end in static or symbolic shapes.

import type { OpDef, InferContext, SymbolicValue } from "../op-def.js";
import { fail } from "../../diagnostics.js";
import type { DType } from "../../dtype.js";
import { dtypeFromOnnx, INT_DTYPES, isSubByte, onnxTypeName } from "../../dtype.js";
import type { Dim } from "../../symbolic.js";
import { addDims, divDimsExact, productOfDims, subDims } from "../../symbolic.js";
import type { Tensor } from "../../tensor.js";
import { tensorFromValues, valuesAsNumbers } from "../../tensor.js";
import {
  broadcastShapes, checkShapeValues, defineOp, hasInput, inputShape, inputType, intAttr, intsAttr, knownDims, knownInts,
  normalizeAxis, numel,
} from "./util.js";
import type { Shape } from "./util.js";
import type { Attrs, TensorType } from "../graph.js";

function passSymbolic(ctx: InferContext, i = 0): SymbolicValue | undefined {
  return ctx.inputs[i]?.symbolic ?? (ctx.inputs[i]?.value && ctx.inputs[i]!.value!.data.length <= 64
    ? knownDims(ctx.inputs[i]) : undefined);
}

/** Output dims of Reshape given the requested shape (0 copies, -1 infers). */
export function reshapeDims(input: Shape, requested: readonly Dim[], allowZero: boolean, ctx: InferContext): Dim[] {
  const out: Dim[] = requested.map((d, i) => {
    if (d === 0 && !allowZero) {
      if (i >= input.length) fail(`Reshape dim ${i} copies an input dim that does not exist`);
      return input[i]!;
    }
    return d;
  });
  const inferAt = out.indexOf(-1);
  if (out.lastIndexOf(-1) !== inferAt) fail("Reshape has more than one -1");
  for (const d of out) if (typeof d === "number" && d < -1) fail(`Reshape dim ${d} is negative`);
  if (inferAt >= 0) {
    const known = productOfDims(out.filter((_, i) => i !== inferAt));
    const total = numel(input);
    const q = divDimsExact(total, known);
    if (q === undefined && typeof total === "number" && typeof known === "number") {
      fail(`cannot reshape [${input.join(", ")}] into [${requested.join(", ")}]`);
    }
    out[inferAt] = q ?? ctx.fresh("reshape");
  } else {
    const total = numel(input), want = productOfDims(out);
    if (typeof total === "number" && typeof want === "number" && total !== want) {
      fail(`cannot reshape [${input.join(", ")}] (${total} elements) into [${out.join(", ")}] (${want} elements)`);
    }
  }
  return out;
}

/** Axes from an attribute (older opsets) or an input (newer ones); "runtime" when the input's values are not known. */
function axesOf(ctx: InferContext, attrs: Attrs, inputIndex: number): number[] | "runtime" | undefined {
  const fromAttr = intsAttr(attrs, "axes");
  if (fromAttr) return [...fromAttr];
  if (!hasInput(ctx, inputIndex)) return undefined;
  return knownInts(ctx.inputs[inputIndex]) ?? "runtime";
}

/** A shape input's type: int64, as ONNX's Reshape, Expand and ConstantOfShape require (a float one would be read as dims). */
function shapeInput(ctx: InferContext, index: number, name: string): TensorType {
  const t = inputType(ctx, index, name);
  if (t.dtype !== "i64") fail(`${name} has dtype ${t.dtype}, expected i64`);
  return t;
}

/** The largest rank a shape input may give a tensor (a 1-D shape input of 2^31 elements would give that many dims). */
export const MAX_RANK = 64;

/** `rank` fresh dims, for an output whose rank a shape or axes input's length gives; refused past MAX_RANK. */
function freshDims(rank: number, ctx: Pick<InferContext, "fresh">, hint: string, what: string): Dim[] {
  if (rank > MAX_RANK) fail(`${what} gives the output ${rank} dims, over the limit of ${MAX_RANK}`);
  return Array.from({ length: rank }, () => ctx.fresh(hint));
}

/** Output type when axes are only known at run time: rank from the axes' length if static, every dim fresh. */
function runtimeAxesType(ctx: InferContext, t: TensorType, sign: 1 | -1, hint: string): TensorType {
  const n = inputType(ctx, 1, "axes").shape?.[0];
  if (!t.shape || typeof n !== "number") return { dtype: t.dtype, shape: null };
  return { dtype: t.dtype, shape: freshDims(Math.max(0, t.shape.length + sign * n), ctx, hint, "the axes input's length") };
}

/** Dropout with training_mode true and a non-zero ratio is random: refuse it rather than return the identity. */
/** int4/uint4 hold one value per byte in memory, so a cast into them would wrap at 8 bits: QuantizeLinear makes them. */
function refuseCastToSubByte(op: string, to: DType): void {
  if (isSubByte(to)) fail(`${op} to ${to} is not supported (QuantizeLinear produces ${to})`);
}

function checkNotTraining(training: Tensor | undefined, ratio: Tensor | undefined): void {
  const on = training !== undefined && Number(training.data[0] ?? 0) !== 0;
  const r = ratio === undefined ? 0.5 : Number(ratio.data[0] ?? 0.5);
  if (on && r !== 0) fail(`Dropout in training mode (ratio ${r}) is random and not supported`);
}

const INT64_MAX = 2 ** 63;

/**
 * Slice length along an axis when the dim, start or end is symbolic, for the
 * patterns exporters write; a symbolic bound is assumed to lie inside the dim
 * (the exported program computed it from the same shapes).
 */
function sliceLength(d: Dim, start: Dim, end: Dim, step: number, ctx: InferContext): Dim {
  if (typeof d === "number" && typeof start === "number" && typeof end === "number") {
    const norm = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    if (step > 0) return Math.max(0, Math.ceil((norm(end, 0, d) - norm(start, 0, d)) / step));
    return Math.max(0, Math.ceil((norm(start, -1, d - 1) - norm(end, -1, d - 1)) / -step));
  }
  if (step === 1) {
    const huge = typeof end === "number" && end >= INT64_MAX / 2;
    const from = typeof start === "number" && start < 0 ? addDims(d, start) : start;
    const to = huge ? d : typeof end === "number" && end < 0 ? addDims(d, end) : end;
    if (typeof start === "number" && start < 0 && huge) return -start;
    const length = subDims(to, from);
    if (typeof length === "number" && length < 0) return 0;
    return length;
  }
  return ctx.fresh("slice");
}

/** Slice parameters with starts and ends as dims (they may come from shape arithmetic). */
export function sliceParams(ctx: InferContext, rank: number): { starts: Dim[]; ends: Dim[]; axes: number[]; steps: number[] } | undefined {
  const starts = knownDims(ctx.inputs[1]), ends = knownDims(ctx.inputs[2]);
  if (!starts || !ends) return undefined;
  const axes = hasInput(ctx, 3) ? knownInts(ctx.inputs[3]) : starts.map((_, i) => i);
  const steps = hasInput(ctx, 4) ? knownInts(ctx.inputs[4]) : starts.map(() => 1);
  if (!axes || !steps) return undefined;
  if (starts.length !== ends.length || axes.length !== starts.length || steps.length !== starts.length) {
    fail("Slice starts, ends, axes and steps must have the same length");
  }
  return { starts, ends, axes: axes.map((a) => normalizeAxis(a, rank)), steps };
}

function sliceSymbolic(values: readonly Dim[], start: number, end: number, step: number): Dim[] | undefined {
  if (step !== 1) return undefined;
  const n = values.length;
  const s = Math.min(Math.max(start < 0 ? start + n : start, 0), n);
  const e = Math.min(Math.max(end < 0 ? end + n : end, 0), n);
  return values.slice(s, Math.max(s, e));
}

function constantValue(attrs: Attrs): Tensor {
  const a = attrs.value ?? attrs.value_float ?? attrs.value_floats ?? attrs.value_int ?? attrs.value_ints;
  if (!a) fail("Constant has no value attribute");
  switch (a.type) {
    case "tensor": return a.value;
    case "float": return tensorFromValues("f32", [], [a.value]);
    case "floats": return tensorFromValues("f32", [a.value.length], a.value);
    case "int": return tensorFromValues("i64", [], [a.value]);
    case "ints": return tensorFromValues("i64", [a.value.length], a.value);
    default: return fail(`Constant value of type ${a.type} is not supported`);
  }
}

function constantOfShapeValue(attrs: Attrs): Tensor {
  const v = attrs.value;
  return v?.type === "tensor" ? v.value : tensorFromValues("f32", [1], [0]);
}

export const SHAPE_OPS: readonly OpDef[] = [
  defineOp({
    op: "Identity", doc: "Identity(x) = x.", inputs: [1, 1],
    infer: (ctx) => ({ types: [inputType(ctx, 0, "x")], symbolic: [passSymbolic(ctx)] }),
  }),
  defineOp({
    op: "Dropout", doc: "Dropout(x, ratio?, training_mode?) at inference is the identity; mask is all true.",
    inputs: [1, 3], outputs: [1, 2], attrs: { seed: { type: "int" } },
    infer(ctx) {
      const t = inputType(ctx, 0, "x");
      const training = ctx.inputs[2]?.value, ratio = ctx.inputs[1];
      if (training && (!ratio || ratio.value)) checkNotTraining(training, ratio?.value);
      const mask: TensorType = { dtype: "bool", shape: t.shape };
      return { types: [t, mask].slice(0, ctx.outputCount) };
    },
  }),
  defineOp({
    op: "Cast", doc: "Cast(x) to the dtype `to` (an ONNX TensorProto.DataType).", inputs: [1, 1],
    attrs: { to: { type: "int", required: true }, saturate: { type: "int", default: 1 } },
    infer(ctx) {
      const to = dtypeFromOnnx(intAttr(ctx.attrs, "to", 0));
      if (!to || to === "str") fail(`Cast to ONNX dtype ${onnxTypeName(intAttr(ctx.attrs, "to", 0))} is not supported`);
      refuseCastToSubByte("Cast", to);
      const t = inputType(ctx, 0, "x");
      const sym = INT_DTYPES.includes(to) ? passSymbolic(ctx) : undefined;
      return { types: [{ dtype: to, shape: t.shape }], symbolic: [sym] };
    },
  }),
  defineOp({
    op: "CastLike", doc: "CastLike(x, target): x cast to target's dtype.", inputs: [2, 2],
    attrs: { saturate: { type: "int", default: 1 } },
    infer(ctx) {
      const to = inputType(ctx, 1, "target_type").dtype;
      refuseCastToSubByte("CastLike", to);
      return { types: [{ dtype: to, shape: inputType(ctx, 0, "x").shape }] };
    },
  }),
  defineOp({
    op: "Shape", doc: "Shape(x)[start:end] as an int64 vector.", inputs: [1, 1],
    attrs: { start: { type: "int", default: 0 }, end: { type: "int" } },
    infer(ctx) {
      const shape = inputShape(ctx, 0, "x");
      if (!shape) return { types: [{ dtype: "i64", shape: [ctx.fresh("rank")] }] };
      const rank = shape.length;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
      const start = clamp(intAttr(ctx.attrs, "start", 0));
      const end = clamp(ctx.attrs.end ? intAttr(ctx.attrs, "end", rank) : rank);
      const dims = shape.slice(start, Math.max(start, end));
      return { types: [{ dtype: "i64", shape: [dims.length] }], symbolic: [dims] };
    },
  }),
  defineOp({
    op: "Size", doc: "Size(x): the element count as an int64 scalar.", inputs: [1, 1],
    infer(ctx) {
      const shape = inputShape(ctx, 0, "x");
      return { types: [{ dtype: "i64", shape: [] }], symbolic: [shape ? [numel(shape)] : undefined] };
    },
  }),
  defineOp({
    op: "Reshape", doc: "Reshape(data, shape): 0 copies the input dim (unless allowzero), -1 is inferred.",
    inputs: [2, 2], attrs: { allowzero: { type: "int", default: 0 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "data");
      const shapeType = shapeInput(ctx, 1, "shape");
      const requested = knownDims(ctx.inputs[1]);
      let shape: Dim[] | null;
      if (requested && t.shape) shape = reshapeDims(t.shape, requested, intAttr(ctx.attrs, "allowzero", 0) === 1, ctx);
      else if (shapeType.shape && typeof shapeType.shape[0] === "number") {
        shape = freshDims(shapeType.shape[0], ctx, "reshape", "Reshape's shape input's length");
      } else shape = null;
      const sym = shape && shape.length <= 1 ? passSymbolic(ctx) : undefined;
      return { types: [{ dtype: t.dtype, shape }], symbolic: [sym] };
    },
  }),
  defineOp({
    op: "Flatten", doc: "Flatten(x) to 2-D: [prod(dims[:axis]), prod(dims[axis:])].", inputs: [1, 1],
    attrs: { axis: { type: "int", default: 1 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "input");
      if (!t.shape) return { types: [{ dtype: t.dtype, shape: [ctx.fresh("flat"), ctx.fresh("flat")] }] };
      const rank = t.shape.length;
      let axis = intAttr(ctx.attrs, "axis", 1);
      if (axis < -rank || axis > rank) fail(`axis ${axis} is out of range for rank ${rank}`);
      if (axis < 0) axis += rank;
      return { types: [{ dtype: t.dtype, shape: [productOfDims(t.shape.slice(0, axis)), productOfDims(t.shape.slice(axis))] }] };
    },
  }),
  defineOp({
    op: "Squeeze", doc: "Squeeze(data, axes?): remove the given size-1 axes (all of them when absent).",
    inputs: [1, 2], attrs: { axes: { type: "ints" } },
    infer(ctx) {
      const t = inputType(ctx, 0, "data");
      if (!t.shape) return { types: [t] };
      const shape = t.shape;
      const given = axesOf(ctx, ctx.attrs, 1);
      if (given === "runtime") return { types: [runtimeAxesType(ctx, t, -1, "squeeze")] };
      const axes = given?.map((a) => normalizeAxis(a, shape.length));
      for (const a of axes ?? []) {
        if (typeof shape[a] === "number" && shape[a] !== 1) fail(`cannot squeeze axis ${a} of size ${shape[a]}`);
      }
      const keep = shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
      return { types: [{ dtype: t.dtype, shape: keep }], symbolic: [passSymbolic(ctx)] };
    },
  }),
  defineOp({
    op: "Unsqueeze", doc: "Unsqueeze(data, axes): insert size-1 axes at the given output positions.",
    inputs: [1, 2], attrs: { axes: { type: "ints" } },
    infer(ctx) {
      const t = inputType(ctx, 0, "data");
      const axes = axesOf(ctx, ctx.attrs, 1);
      if (!axes) fail("Unsqueeze needs axes");
      if (axes === "runtime") return { types: [runtimeAxesType(ctx, t, 1, "unsqueeze")] };
      if (!t.shape) return { types: [t] };
      const rank = t.shape.length + axes.length;
      const norm = axes.map((a) => normalizeAxis(a, rank));
      if (new Set(norm).size !== norm.length) fail("Unsqueeze axes repeat");
      const out: Dim[] = [];
      let src = 0;
      for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : t.shape[src++]!);
      return { types: [{ dtype: t.dtype, shape: out }], symbolic: [passSymbolic(ctx)] };
    },
  }),
  defineOp({
    op: "Expand", doc: "Expand(input, shape): broadcast input to shape.", inputs: [2, 2],
    infer(ctx) {
      const t = inputType(ctx, 0, "input");
      const shapeType = shapeInput(ctx, 1, "shape");
      const target = knownDims(ctx.inputs[1]);
      if (target) checkShapeValues(target, "Expand shape");
      if (!target || !t.shape) {
        const len = shapeType.shape?.[0];
        const rank = typeof len === "number" ? Math.max(len, t.shape?.length ?? 0) : undefined;
        return { types: [{ dtype: t.dtype, shape: rank === undefined ? null : freshDims(rank, ctx, "expand", "Expand's shape input's length") }] };
      }
      return { types: [{ dtype: t.dtype, shape: broadcastShapes(t.shape, target) }] };
    },
  }),
  defineOp({
    op: "ConstantOfShape", doc: "ConstantOfShape(shape): a tensor of that shape filled with `value` (default 0.0f).",
    inputs: [1, 1], attrs: { value: { type: "tensor" } },
    infer(ctx) {
      const value = constantOfShapeValue(ctx.attrs);
      const len = shapeInput(ctx, 0, "input").shape?.[0];
      const dims = knownDims(ctx.inputs[0]);
      if (dims) checkShapeValues(dims, "ConstantOfShape shape");
      const shape = dims ?? (typeof len === "number" ? freshDims(len, ctx, "fill", "ConstantOfShape's shape input's length") : null);
      let sym: SymbolicValue | undefined;
      if (shape?.length === 1 && typeof shape[0] === "number" && shape[0] <= 64 && INT_DTYPES.includes(value.dtype)) {
        sym = new Array<Dim>(shape[0]).fill(Number(value.data[0]!));
      }
      return { types: [{ dtype: value.dtype, shape }], symbolic: [sym] };
    },
  }),
  defineOp({
    op: "Constant", doc: "Constant: a tensor from its value attribute.", inputs: [0, 0],
    attrs: {
      value: { type: "tensor" }, value_float: { type: "float" }, value_floats: { type: "floats" },
      value_int: { type: "int" }, value_ints: { type: "ints" },
    },
    infer(ctx) {
      const v = constantValue(ctx.attrs);
      // Small int constants carry their values into shape arithmetic (axes, shapes).
      const small = INT_DTYPES.includes(v.dtype) && v.dims.length <= 1 && v.data.length <= 64;
      return { types: [{ dtype: v.dtype, shape: [...v.dims] }], symbolic: [small ? valuesAsNumbers(v) : undefined] };
    },
  }),
];

export { axesOf, checkNotTraining, constantOfShapeValue, constantValue, sliceLength, sliceSymbolic };
