// Ops that repeat data: Tile, and OneHot (which repeats off/on values).

import type { OpDef } from "../op-def.js";
import { fail } from "../../diagnostics.js";
import type { Dim } from "../../symbolic.js";
import { mulDims } from "../../symbolic.js";
import { checkDType, defineOp, inputType, intAttr, knownDims, normalizeAxis } from "./util.js";

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
  }),
];
