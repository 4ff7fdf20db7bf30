// Data movement ops: Transpose, Concat, Split, Slice, the Gather/Scatter
// family, Range, Trilu and CumSum.

import type { OpDef, SymbolicValue } from "../op-def.js";
import { fail } from "../../diagnostics.js";
import type { Dim } from "../../symbolic.js";
import { addDims, divDimsExact, subDims } from "../../symbolic.js";
import { sliceLength, sliceParams, sliceSymbolic } from "./shape.js";
import {
  NUMERIC, checkDType, checkSameDType, defineOp, hasInput, inputType, intAttr, intsAttr, knownDims, knownInts,
  normalizeAxis,
} from "./util.js";

const INDEX: readonly ["i32", "i64"] = ["i32", "i64"];

export function splitSizes(dim: Dim, count: number, explicit: number[] | undefined, ctx: { fresh(h: string): string }): Dim[] {
  if (explicit) return explicit;
  if (typeof dim === "number") {
    const chunk = Math.ceil(dim / count);
    return Array.from({ length: count }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  }
  const even = divDimsExact(dim, count);
  return Array.from({ length: count }, () => even ?? ctx.fresh("split"));
}

export function checkSplitSizes(sizes: readonly number[], dim: Dim, outputs: number): void {
  if (sizes.length !== outputs) fail(`split has ${sizes.length} sizes for ${outputs} outputs`);
  if (sizes.some((s) => s < 0)) fail(`split sizes [${sizes.join(", ")}] must not be negative`);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (typeof dim === "number" && total !== dim) fail(`split sizes [${sizes.join(", ")}] add up to ${total}, the axis has ${dim}`);
}

export const DATA_OPS: readonly OpDef[] = [
  defineOp({
    op: "Transpose", doc: "Transpose(x) by `perm` (default: reverse the axes).", inputs: [1, 1],
    attrs: { perm: { type: "ints" } },
    infer(ctx) {
      const t = inputType(ctx, 0, "data");
      if (!t.shape) return { types: [t] };
      const rank = t.shape.length;
      const perm = intsAttr(ctx.attrs, "perm") ?? [...Array(rank).keys()].reverse();
      if (perm.length !== rank || new Set(perm).size !== rank || perm.some((p) => p < 0 || p >= rank)) {
        fail(`perm [${perm.join(", ")}] is not a permutation of rank ${rank}`);
      }
      return { types: [{ dtype: t.dtype, shape: perm.map((p) => t.shape![p]!) }] };
    },
  }),
  defineOp({
    op: "Concat", doc: "Concat(x0, x1, ...) along `axis`.", inputs: [1, Infinity],
    attrs: { axis: { type: "int", required: true } },
    infer(ctx) {
      const indices = ctx.inputs.map((_, i) => i);
      const dtype = checkSameDType(ctx, indices);
      const shapes = indices.map((i) => inputType(ctx, i).shape);
      if (shapes.some((s) => s === null)) return { types: [{ dtype, shape: null }] };
      const rank = shapes[0]!.length;
      const axis = normalizeAxis(intAttr(ctx.attrs, "axis", 0), rank);
      const out = [...shapes[0]!];
      shapes.forEach((s, i) => {
        if (s!.length !== rank) fail(`input ${i} has rank ${s!.length}, input 0 has ${rank}`);
        if (i > 0) out[axis] = addDims(out[axis]!, s![axis]!);
      });
      let sym: SymbolicValue | undefined;
      if (rank === 1) {
        const parts = indices.map((i) => knownDims(ctx.inputs[i]));
        if (parts.every((p) => p !== undefined)) sym = parts.flat() as Dim[];
      }
      return { types: [{ dtype, shape: out }], symbolic: [sym] };
    },
  }),
  defineOp({
    op: "Split", doc: "Split(x, split?) along `axis` into sizes `split`, or evenly into the outputs.",
    inputs: [1, 2], outputs: [1, Infinity],
    attrs: { axis: { type: "int", default: 0 }, split: { type: "ints" }, num_outputs: { type: "int" } },
    infer(ctx) {
      const t = inputType(ctx, 0, "input");
      if (!t.shape) return { types: Array.from({ length: ctx.outputCount }, () => t) };
      const axis = normalizeAxis(intAttr(ctx.attrs, "axis", 0), t.shape.length);
      const explicit = intsAttr(ctx.attrs, "split") ?? (hasInput(ctx, 1) ? knownInts(ctx.inputs[1]) : undefined);
      if (explicit) checkSplitSizes(explicit, t.shape[axis]!, ctx.outputCount);
      // Sizes given at run time: every output's split dim is its own unknown.
      const sizes = hasInput(ctx, 1) && !explicit
        ? Array.from({ length: ctx.outputCount }, () => ctx.fresh("split"))
        : splitSizes(t.shape[axis]!, ctx.outputCount, explicit ? [...explicit] : undefined, ctx);
      return { types: sizes.map((s) => ({ dtype: t.dtype, shape: t.shape!.map((d, i) => (i === axis ? s : d)) })) };
    },
  }),
  defineOp({
    op: "Slice", doc: "Slice(data, starts, ends, axes?, steps?) with ONNX clamping rules.", inputs: [3, 5],
    infer(ctx) {
      const t = inputType(ctx, 0, "data");
      for (const i of [1, 2, 3, 4]) if (hasInput(ctx, i)) checkDType(inputType(ctx, i).dtype, INDEX, `input ${i}`);
      if (!t.shape) return { types: [t] };
      const params = sliceParams(ctx, t.shape.length);
      if (!params) return { types: [{ dtype: t.dtype, shape: t.shape.map(() => ctx.fresh("slice")) }] };
      const shape = [...t.shape];
      params.axes.forEach((axis, i) => {
        shape[axis] = sliceLength(shape[axis]!, params.starts[i]!, params.ends[i]!, params.steps[i]!, ctx);
      });
      let sym: SymbolicValue | undefined;
      const data = knownDims(ctx.inputs[0]);
      const [start, end] = [params.starts[0], params.ends[0]];
      if (data && t.shape.length === 1 && params.axes.length === 1 && typeof start === "number" && typeof end === "number") {
        sym = sliceSymbolic(data, start, end, params.steps[0]!);
      }
      return { types: [{ dtype: t.dtype, shape }], symbolic: [sym] };
    },
  }),
  defineOp({
    op: "Gather", doc: "Gather(data, indices) along `axis`; out-of-range indices are errors.", inputs: [2, 2],
    attrs: { axis: { type: "int", default: 0 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "data"), idx = inputType(ctx, 1, "indices");
      checkDType(idx.dtype, INDEX, "indices");
      if (!t.shape || !idx.shape) return { types: [{ dtype: t.dtype, shape: null }] };
      const axis = normalizeAxis(intAttr(ctx.attrs, "axis", 0), t.shape.length);
      const shape = [...t.shape.slice(0, axis), ...idx.shape, ...t.shape.slice(axis + 1)];
      let sym: SymbolicValue | undefined;
      const data = knownDims(ctx.inputs[0]), at = knownInts(ctx.inputs[1]);
      if (data && at && t.shape.length === 1) {
        const n = data.length;
        const picked = at.map((i) => {
          if (i < -n || i >= n) fail(`Gather index ${i} is out of range for a dimension of ${n}`);
          return data[i < 0 ? i + n : i]!;
        });
        sym = picked;
      }
      return { types: [{ dtype: t.dtype, shape }], symbolic: [sym] };
    },
  }),
  defineOp({
    op: "GatherElements", doc: "GatherElements(data, indices) along `axis`.", inputs: [2, 2],
    attrs: { axis: { type: "int", default: 0 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "data"), idx = inputType(ctx, 1, "indices");
      checkDType(idx.dtype, INDEX, "indices");
      if (t.shape && idx.shape && t.shape.length !== idx.shape.length) fail("data and indices must have the same rank");
      return { types: [{ dtype: t.dtype, shape: idx.shape }] };
    },
  }),
  defineOp({
    op: "GatherND", doc: "GatherND(data, indices) with `batch_dims` leading batch axes.", inputs: [2, 2],
    attrs: { batch_dims: { type: "int", default: 0 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "data"), idx = inputType(ctx, 1, "indices");
      checkDType(idx.dtype, ["i64"], "indices");
      if (!t.shape || !idx.shape) return { types: [{ dtype: t.dtype, shape: null }] };
      const k = idx.shape[idx.shape.length - 1];
      const b = intAttr(ctx.attrs, "batch_dims", 0);
      if (typeof k !== "number") fail("GatherND needs a static last indices dim");
      if (b + k > t.shape.length) fail(`GatherND index depth ${k} exceeds data rank ${t.shape.length}`);
      return { types: [{ dtype: t.dtype, shape: [...idx.shape.slice(0, -1), ...t.shape.slice(b + k)] }] };
    },
  }),
  defineOp({
    op: "ScatterND", doc: "ScatterND(data, indices, updates): a copy of data with updates written at indices.",
    inputs: [3, 3], attrs: { reduction: { type: "string", default: "none", oneOf: ["none", "add", "mul", "max", "min"] } },
    infer(ctx) {
      const t = inputType(ctx, 0, "data");
      checkDType(inputType(ctx, 1, "indices").dtype, ["i64"], "indices");
      if (inputType(ctx, 2, "updates").dtype !== t.dtype) fail("updates must have the dtype of data");
      return { types: [t] };
    },
  }),
  defineOp({
    op: "ScatterElements",
    doc: "ScatterElements(data, indices, updates) along `axis`: a copy of data with each update written where its index says (DeepSeek-V3's group routing builds its mask so).",
    inputs: [3, 3], attrs: {
      axis: { type: "int", default: 0 },
      reduction: { type: "string", default: "none", oneOf: ["none", "add", "mul", "max", "min"] },
    },
    infer(ctx) {
      const t = inputType(ctx, 0, "data"), idx = inputType(ctx, 1, "indices"), u = inputType(ctx, 2, "updates");
      checkDType(idx.dtype, INDEX, "indices");
      if (u.dtype !== t.dtype) fail("updates must have the dtype of data");
      if (t.shape && idx.shape && t.shape.length !== idx.shape.length) fail("data and indices must have the same rank");
      if (idx.shape && u.shape && idx.shape.length !== u.shape.length) fail("indices and updates must have the same rank");
      if (t.shape) normalizeAxis(intAttr(ctx.attrs, "axis", 0), t.shape.length);
      return { types: [t] };
    },
  }),
  defineOp({
    op: "Range", doc: "Range(start, limit, delta): a 1-D sequence.", inputs: [3, 3],
    infer(ctx) {
      const dtype = checkSameDType(ctx, [0, 1, 2]);
      checkDType(dtype, NUMERIC, "start");
      const [s, l, d] = [0, 1, 2].map((i) => knownDims(ctx.inputs[i])?.[0]);
      let len: Dim;
      if (typeof s === "number" && typeof l === "number" && typeof d === "number") {
        len = Math.max(Math.ceil((l - s) / d), 0);
      } else if (d === 1 && s !== undefined && l !== undefined) {
        // limit - start: a cache's positions run from its length to its length plus the new tokens.
        // Where that is negative for the dims bound, binding refuses the size.
        len = s === 0 ? l : subDims(l, s);
      } else len = ctx.fresh("range");
      return { types: [{ dtype, shape: [len] }] };
    },
  }),
  defineOp({
    op: "Trilu", doc: "Trilu(x, k?): keep the upper (upper=1) or lower triangle of the last two axes.",
    inputs: [1, 2], attrs: { upper: { type: "int", default: 1 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "input");
      if (t.shape && t.shape.length < 2) fail("Trilu needs rank >= 2");
      return { types: [t] };
    },
  }),
  defineOp({
    op: "CumSum", doc: "CumSum(x, axis): running sum along axis (exclusive/reverse attributes).", inputs: [2, 2],
    attrs: { exclusive: { type: "int", default: 0 }, reverse: { type: "int", default: 0 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "x");
      checkDType(t.dtype, NUMERIC, "x");
      checkDType(inputType(ctx, 1, "axis").dtype, INDEX, "axis");
      return { types: [t] };
    },
  }),
];
