// Ops that repeat data: Tile, and OneHot (which repeats off/on values).

import type { OpDef } from "../op-def.js";
import { fail } from "../../diagnostics.js";
import type { Dim } from "../../symbolic.js";
import { mulDims } from "../../symbolic.js";
import type { Tensor } from "../../tensor.js";
import { makeTensor, valuesAsNumbers } from "../../tensor.js";
import { copyStrided, stridesOf } from "../kernels/layout.js";
import { checkDType, defineOp, inputType, intAttr, knownDims, normalizeAxis } from "./util.js";

type Writable = { [i: number]: number | bigint };

function tile(x: Tensor, repeats: readonly number[]): Tensor {
  if (repeats.length !== x.dims.length) fail(`Tile repeats has ${repeats.length} entries for rank ${x.dims.length}`);
  if (repeats.some((r) => r < 0)) fail("Tile repeats must be non-negative");
  const dims = x.dims.map((d, i) => d * repeats[i]!);
  const out = makeTensor(x.dtype, dims);
  // The output as [r0, d0, r1, d1, ...]: the source repeats (stride 0) along each r axis.
  const inStrides = stridesOf(x.dims), outStrides = stridesOf(dims);
  const split = x.dims.flatMap((d, i) => [repeats[i]!, d]);
  const srcStrides = x.dims.flatMap((_, i) => [0, inStrides[i]!]);
  const dstStrides = x.dims.flatMap((d, i) => [d * outStrides[i]!, outStrides[i]!]);
  copyStrided(split, x.data, 0, srcStrides, out.data, 0, dstStrides);
  return out;
}

function oneHot(indices: Tensor, depthT: Tensor, values: Tensor, axisAttr: number): Tensor {
  const depth = Math.trunc(Number(depthT.data[0]!));
  if (depth < 1) fail(`OneHot depth ${depth} must be positive`);
  const rank = indices.dims.length + 1;
  const axis = normalizeAxis(axisAttr, rank);
  const dims = [...indices.dims.slice(0, axis), depth, ...indices.dims.slice(axis)];
  const out = makeTensor(values.dtype, dims);
  const off = values.data[0]!, on = values.data[1]!;
  (out.data as unknown as { fill(v: number | bigint): void }).fill(off);
  const inner = indices.dims.slice(axis).reduce((p, d) => p * d, 1);
  for (let i = 0; i < indices.data.length; i++) {
    let k = Number(indices.data[i]!);
    if (k < 0) k += depth;
    if (k < 0 || k >= depth) continue; // out of range: all off, as the spec says
    const outer = Math.floor(i / inner), rest = i % inner;
    (out.data as Writable)[(outer * depth + k) * inner + rest] = on;
  }
  return out;
}

export const REPEAT_OPS: readonly OpDef[] = [
  defineOp({
    op: "Tile", doc: "Tile(input, repeats): repeat the input repeats[i] times along axis i.", inputs: [2, 2],
    infer(ctx) {
      const t = inputType(ctx, 0, "input");
      checkDType(inputType(ctx, 1, "repeats").dtype, ["i64"], "repeats");
      if (!t.shape) return { types: [t] };
      const repeats = knownDims(ctx.inputs[1]);
      if (repeats && repeats.length !== t.shape.length) fail(`Tile repeats has ${repeats.length} entries for rank ${t.shape.length}`);
      const shape = t.shape.map((d, i): Dim => (repeats ? mulDims(d, repeats[i]!) : ctx.fresh("tile")));
      return { types: [{ dtype: t.dtype, shape }] };
    },
    kernel: ([x, repeats]) => [tile(x!, valuesAsNumbers(repeats!))],
  }),
  defineOp({
    op: "OneHot", doc: "OneHot(indices, depth, values=[off, on]): a new axis of size depth at `axis`.", inputs: [3, 3],
    attrs: { axis: { type: "int", default: -1 } },
    infer(ctx) {
      const idx = inputType(ctx, 0, "indices");
      const values = inputType(ctx, 2, "values");
      if (values.shape && (values.shape.length !== 1 || values.shape[0] !== 2)) fail("OneHot values must be [off, on]");
      if (!idx.shape) return { types: [{ dtype: values.dtype, shape: null }] };
      const depth = knownDims(ctx.inputs[1])?.[0] ?? ctx.fresh("depth");
      const axis = normalizeAxis(intAttr(ctx.attrs, "axis", -1), idx.shape.length + 1);
      return { types: [{ dtype: values.dtype, shape: [...idx.shape.slice(0, axis), depth, ...idx.shape.slice(axis)] }] };
    },
    kernel: ([indices, depth, values], { attrs }) => [oneHot(indices!, depth!, values!, intAttr(attrs, "axis", -1))],
  }),
];
