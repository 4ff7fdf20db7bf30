// Compute-heavy ops: MatMul, Gemm, Conv, pooling, normalisation, softmax.
// Shape inference and FLOP counts live here; their kernels are in the reference backend.

import type { OpDef } from "../op-def.js";
import type { TensorType } from "../graph.js";
import { fail } from "../../diagnostics.js";
import type { Dim } from "../../symbolic.js";
import { addDims, divDimsExact, mulDims, productOfDims, subDims } from "../../symbolic.js";
import {
  FLOATS, NUMERIC, broadcastShapes, checkDType, checkSameDType, defineOp, inputType, intAttr, intsAttr,
  normalizeAxis, numel, stringAttr,
} from "./util.js";
import type { Shape } from "./util.js";

/** Output shape of numpy-style matmul (1-D operands are promoted and the added axis removed). */
export function matmulShape(a: Shape, b: Shape): Dim[] {
  if (a.length === 0 || b.length === 0) fail("MatMul operands must have rank >= 1");
  const a2 = a.length === 1 ? [1, a[0]!] : a, b2 = b.length === 1 ? [b[0]!, 1] : b;
  const k1 = a2[a2.length - 1]!, k2 = b2[b2.length - 2]!;
  if (typeof k1 === "number" && typeof k2 === "number" && k1 !== k2) {
    fail(`MatMul inner dims differ: [${a.join(", ")}] x [${b.join(", ")}]`);
  }
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2));
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

const shapeOf = (t: TensorType | undefined): Shape | null => t?.shape ?? null;

function matmulFlops(a: Shape | null, out: Shape | null): Dim {
  if (!a || !out) return 0;
  return mulDims(2, mulDims(numel(out), a[a.length - 1]!));
}

/** Spatial output size of a convolution or pooling window along one axis. */
function windowOut(size: Dim, kernel: number, stride: number, dilation: number, padBegin: number, padEnd: number,
  ceil: boolean): Dim {
  const effective = dilation * (kernel - 1) + 1;
  const span = subDims(addDims(size, padBegin + padEnd), effective);
  if (typeof span === "number") {
    const out = Math[ceil ? "ceil" : "floor"](span / stride) + 1;
    // ceil_mode never starts a window in the end padding (ONNX spec, onnxruntime).
    return ceil && typeof size === "number" && (out - 1) * stride >= size + padBegin ? out - 1 : out;
  }
  const exact = divDimsExact(span, stride);
  if (exact === undefined) fail(`window size on symbolic dim ${size} with stride ${stride} is not exact`);
  return addDims(exact, 1);
}


function poolShape(x: Shape, ctxAttrs: Parameters<OpDef["infer"]>[0]["attrs"], kernel: readonly number[]): Dim[] {
  const spatial = x.slice(2);
  const n = spatial.length;
  if (kernel.length !== n) fail(`kernel_shape has ${kernel.length} dims for ${n} spatial dims`);
  const strides = intsAttr(ctxAttrs, "strides") ?? new Array(n).fill(1);
  const dilations = intsAttr(ctxAttrs, "dilations") ?? new Array(n).fill(1);
  let pads = intsAttr(ctxAttrs, "pads") ?? new Array(2 * n).fill(0);
  const autoPad = stringAttr(ctxAttrs, "auto_pad", "NOTSET");
  const ceil = intAttr(ctxAttrs, "ceil_mode", 0) === 1;
  if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    return spatial.map((d, i) => {
      if (typeof d !== "number") return divDimsExact(d, strides[i]!) ?? fail(`SAME padding on symbolic dim ${d}`);
      return Math.ceil(d / strides[i]!);
    });
  }
  if (autoPad === "VALID") pads = new Array(2 * n).fill(0);
  return spatial.map((d, i) => windowOut(d, kernel[i]!, strides[i]!, dilations[i]!, pads[i]!, pads[i + n]!, ceil));
}

const WINDOW_ATTRS = {
  auto_pad: { type: "string", default: "NOTSET", oneOf: ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"] },
  kernel_shape: { type: "ints" }, strides: { type: "ints" }, pads: { type: "ints" }, dilations: { type: "ints" },
} as const;

export const NN_OPS: readonly OpDef[] = [
  defineOp({
    op: "MatMul", doc: "MatMul(a, b): numpy matmul with batch broadcasting.", inputs: [2, 2],
    infer(ctx) {
      const dtype = checkSameDType(ctx, [0, 1]);
      checkDType(dtype, NUMERIC, "A");
      const a = inputType(ctx, 0).shape, b = inputType(ctx, 1).shape;
      return { types: [{ dtype, shape: a && b ? matmulShape(a, b) : null }] };
    },
    cost: ([a], [out]) => ({ flops: matmulFlops(shapeOf(a), shapeOf(out)) }),
  }),
  defineOp({
    op: "Gemm", doc: "Gemm(A, B, C?) = alpha * A' * B' + beta * C with optional transposes.", inputs: [2, 3],
    attrs: {
      alpha: { type: "float", default: 1 }, beta: { type: "float", default: 1 },
      transA: { type: "int", default: 0 }, transB: { type: "int", default: 0 },
    },
    infer(ctx) {
      const dtype = checkSameDType(ctx, [0, 1, 2]);
      checkDType(dtype, NUMERIC, "A");
      const a = inputType(ctx, 0).shape, b = inputType(ctx, 1).shape;
      if (!a || !b) return { types: [{ dtype, shape: null }] };
      if (a.length !== 2 || b.length !== 2) fail("Gemm operands must be 2-D");
      const [m, ka] = intAttr(ctx.attrs, "transA", 0) ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
      const [kb, n] = intAttr(ctx.attrs, "transB", 0) ? [b[1]!, b[0]!] : [b[0]!, b[1]!];
      if (typeof ka === "number" && typeof kb === "number" && ka !== kb) fail(`Gemm inner dims differ: ${ka} vs ${kb}`);
      const c = ctx.inputs[2]?.type?.shape;
      if (c) broadcastShapes([m, n], c);
      return { types: [{ dtype, shape: [m, n] }] };
    },
    cost: ([a], [out], attrs) => {
      const s = shapeOf(a);
      const k = s ? s[intAttr(attrs, "transA", 0) ? 0 : 1]! : 0;
      return { flops: out?.shape ? mulDims(2, mulDims(numel(out.shape), k)) : 0 };
    },
  }),
  defineOp({
    op: "Conv", doc: "Conv(X, W, B?) over NC[spatial] with groups, strides, pads, dilations.", inputs: [2, 3],
    attrs: { ...WINDOW_ATTRS, group: { type: "int", default: 1 } },
    infer(ctx) {
      const dtype = checkSameDType(ctx, [0, 1, 2]);
      checkDType(dtype, FLOATS, "X");
      const x = inputType(ctx, 0).shape, w = inputType(ctx, 1).shape;
      if (!x || !w) return { types: [{ dtype, shape: null }] };
      if (x.length < 3 || w.length !== x.length) fail(`Conv X rank ${x.length} and W rank ${w.length} do not match`);
      const group = intAttr(ctx.attrs, "group", 1);
      const cin = x[1]!, wc = w[1]!;
      if (typeof cin === "number" && typeof wc === "number" && cin !== wc * group) {
        fail(`Conv input has ${cin} channels, W expects ${wc} x ${group} groups`);
      }
      const kernel = intsAttr(ctx.attrs, "kernel_shape") ?? w.slice(2).map((d) => {
        if (typeof d !== "number") fail("Conv kernel dims must be static");
        return d;
      });
      return { types: [{ dtype, shape: [x[0]!, w[0]!, ...poolShape(x, ctx.attrs, [...kernel])] }] };
    },
    cost: ([, w], [out]) => {
      const ws = shapeOf(w);
      if (!ws || !out?.shape) return { flops: 0 };
      return { flops: mulDims(2, mulDims(numel(out.shape), productOfDims(ws.slice(1)))) };
    },
  }),
  ...["MaxPool", "AveragePool"].map((op) => defineOp({
    op, doc: `${op}(X) over a kernel_shape window.`, inputs: [1, 1], outputs: op === "MaxPool" ? [1, 2] : [1, 1],
    attrs: {
      ...WINDOW_ATTRS, ceil_mode: { type: "int", default: 0 }, count_include_pad: { type: "int", default: 0 },
      storage_order: { type: "int", default: 0 },
    },
    infer(ctx) {
      const t = inputType(ctx, 0, "X");
      checkDType(t.dtype, FLOATS, "X");
      const kernel = intsAttr(ctx.attrs, "kernel_shape");
      if (!kernel) fail(`${op} needs kernel_shape`);
      if (!t.shape) return { types: [t] };
      const shape = [t.shape[0]!, t.shape[1]!, ...poolShape(t.shape, ctx.attrs, [...kernel])];
      const types: TensorType[] = [{ dtype: t.dtype, shape }, { dtype: "i64", shape }];
      return { types: types.slice(0, ctx.outputCount) };
    },
    cost: (_, [out], attrs) => ({
      flops: out?.shape ? mulDims(numel(out.shape), (intsAttr(attrs, "kernel_shape") ?? [1]).reduce((p, k) => p * k, 1)) : 0,
    }),
  })),
  defineOp({
    op: "GlobalAveragePool", doc: "GlobalAveragePool(X): mean over all spatial axes, kept as size 1.", inputs: [1, 1],
    infer(ctx) {
      const t = inputType(ctx, 0, "X");
      checkDType(t.dtype, FLOATS, "X");
      if (!t.shape) return { types: [t] };
      if (t.shape.length < 3) fail("GlobalAveragePool needs rank >= 3");
      return { types: [{ dtype: t.dtype, shape: [t.shape[0]!, t.shape[1]!, ...t.shape.slice(2).map(() => 1)] }] };
    },
    cost: ([x]) => ({ flops: x?.shape ? numel(x.shape) : 0 }),
  }),
  defineOp({
    op: "BatchNormalization", doc: "BatchNormalization(X, scale, B, mean, var) in inference mode.", inputs: [5, 5],
    outputs: [1, 3], attrs: { epsilon: { type: "float", default: 1e-5 }, momentum: { type: "float", default: 0.9 },
      training_mode: { type: "int", default: 0 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "X");
      checkDType(t.dtype, FLOATS, "X");
      if (intAttr(ctx.attrs, "training_mode", 0) !== 0) fail("BatchNormalization in training mode is not supported");
      for (const i of [1, 2, 3, 4]) {
        const s = inputType(ctx, i).shape;
        if (s && s.length !== 1) fail(`BatchNormalization input ${i} must be 1-D`);
      }
      return { types: [t] };
    },
    cost: ([x]) => ({ flops: x?.shape ? mulDims(2, numel(x.shape)) : 0 }),
  }),
  defineOp({
    op: "LayerNormalization", doc: "LayerNormalization(X, Scale, B?) over axes [axis, rank).", inputs: [2, 3],
    outputs: [1, 3], attrs: { axis: { type: "int", default: -1 }, epsilon: { type: "float", default: 1e-5 },
      stash_type: { type: "int", default: 1 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "X");
      checkDType(t.dtype, FLOATS, "X");
      if (!t.shape) return { types: [t] };
      const axis = normalizeAxis(intAttr(ctx.attrs, "axis", -1), t.shape.length);
      const statShape = t.shape.map((d, i) => (i < axis ? d : 1));
      const types: TensorType[] = [t, { dtype: "f32", shape: statShape }, { dtype: "f32", shape: statShape }];
      return { types: types.slice(0, ctx.outputCount) };
    },
    cost: ([x]) => ({ flops: x?.shape ? mulDims(8, numel(x.shape)) : 0 }),
  }),
  ...["Softmax", "LogSoftmax"].map((op) => defineOp({
    op, doc: `${op}(x) along axis (default -1).`, inputs: [1, 1], attrs: { axis: { type: "int", default: -1 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "input");
      checkDType(t.dtype, FLOATS, "input");
      if (t.shape) normalizeAxis(intAttr(ctx.attrs, "axis", -1), t.shape.length);
      return { types: [t] };
    },
    cost: ([x]) => ({ flops: x?.shape ? mulDims(5, numel(x.shape)) : 0 }),
  })),
];
