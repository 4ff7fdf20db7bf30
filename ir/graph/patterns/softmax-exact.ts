// Attention scores scaled by one value, masked and normalised, as the reference
// interpreter runs them (INTERPRETER_PATTERNS):
//   Softmax(Add(Mul(x, s) or Div(x, s), mask)?, axis = last) -> tierflow.exact.ScaledSoftmax
// Mul and Add either way round (float32 + and * commute exactly). The Softmax's
// axis must be written and be the last one, so the op means the same at any
// opset. The helpers are attention-exact.ts's too.

import type { Node } from "../graph.js";
import { attrInt } from "../graph.js";
import { EXACT_DOMAIN } from "../ops/exact.js";
import type { Matcher } from "./pattern.js";
import { definePattern, fusedNode } from "./pattern.js";

/** A Softmax whose axis attribute names the last axis. */
export function overLastAxis(m: Matcher, softmax: Node): boolean {
  const axis = attrInt(softmax.attrs, "axis"), rank = m.shape(softmax.inputs[0]!)?.length;
  return axis === -1 || (axis !== undefined && axis === (rank ?? 0) - 1 && rank !== undefined);
}

interface Scaled<T> { inner: T; scale: string; divide: boolean }

/** Mul(v, s) (either way round) or Div(v, s) of two distinct values, v accepted by `inner`. */
export function scaledBy<T>(m: Matcher, value: string, inner: (v: string) => T | undefined): Scaled<T> | undefined {
  return m.first<Scaled<T>>(
    () => {
      const mul = m.def(value, "Mul");
      if (!mul || mul.inputs[0] === mul.inputs[1]) return undefined;
      return m.commute(mul, (v, scale) => {
        const found = inner(v);
        return found !== undefined ? { inner: found, scale, divide: false } : undefined;
      });
    },
    () => {
      const div = m.def(value, "Div");
      const found = div && div.inputs[0] !== div.inputs[1] ? inner(div.inputs[0]!) : undefined;
      return found !== undefined ? { inner: found, scale: div!.inputs[1]!, divide: true } : undefined;
    },
  );
}

/** Add(v, mask) (either way round, two distinct values) with v accepted by `inner`, or `value` itself accepted by it. */
export function maskedBy<T>(m: Matcher, value: string, inner: (v: string) => T | undefined): { inner: T; mask?: string } | undefined {
  return m.first(
    () => {
      const add = m.def(value, "Add");
      if (!add || add.inputs[0] === add.inputs[1]) return undefined;
      return m.commute(add, (v, mask) => {
        const found = inner(v);
        return found !== undefined ? { inner: found, mask } : undefined;
      });
    },
    () => {
      const found = inner(value);
      return found !== undefined ? { inner: found } : undefined;
    },
  );
}

interface SoftmaxBindings { x: string; scale: string; divide: boolean; mask?: string | undefined }

/** Named as profiles call the step. */
export const SCALED_SOFTMAX = definePattern<SoftmaxBindings>({
  name: "Softmax", root: "Softmax",
  match(root, m) {
    if (!overLastAxis(m, root)) return undefined;
    const found = maskedBy(m, root.inputs[0]!, (v) => scaledBy(m, v, (x) => x));
    return found && { x: found.inner.inner, scale: found.inner.scale, divide: found.inner.divide, mask: found.mask };
  },
  build: ({ x, scale, divide, mask }, root) =>
    [fusedNode(root, "ScaledSoftmax", mask ? [x, scale, mask] : [x, scale], { divide: { type: "int", value: divide ? 1 : 0 } }, { domain: EXACT_DOMAIN })],
});
