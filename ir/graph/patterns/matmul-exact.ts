// MatMuls the reference interpreter runs with what feeds them (INTERPRETER_PATTERNS):
//   MatMul(Gather(table, idx, axis 0) or GatherND(table, idx), b) -> tierflow.exact.GatherMatMul
//     (a mixture of experts' per-token weights, grouped by expert instead of gathered)
//   MatMul(Transpose(a)?, Transpose(b)?), at least one  -> tierflow.exact.TransposeMatMul
//     (operands read through strides instead of copied into the new order)
// A Transpose whose result is read elsewhere is left out (it runs on its own).

import type { Attrs, Node } from "../graph.js";
import { attrInt, attrInts } from "../graph.js";
import { EXACT_DOMAIN } from "../ops/exact.js";
import type { Matcher } from "./pattern.js";
import { definePattern, fusedNode } from "./pattern.js";

export const GATHER_MATMUL = definePattern<{ table: string; indices: string; b: string; nd: boolean }>({
  name: "MatMul", root: "MatMul",
  match(root, m) {
    const [a, b] = root.inputs as [string, string];
    if (a === b) return undefined;
    const gathered = (op: string, attr: string, nd: boolean) => () => {
      const g = m.def(a, op);
      return g && (attrInt(g.attrs, attr) ?? 0) === 0 ? { table: g.inputs[0]!, indices: g.inputs[1]!, b, nd } : undefined;
    };
    return m.first(gathered("Gather", "axis", false), gathered("GatherND", "batch_dims", true));
  },
  build: ({ table, indices, b, nd }, root) =>
    [fusedNode(root, "GatherMatMul", [table, indices, b], { nd: { type: "int", value: nd ? 1 : 0 } }, { domain: EXACT_DOMAIN })],
});

/** The Transpose writing `value` when `reader` is its only reader; undefined otherwise. */
export function soleTranspose(m: Matcher, value: string, reader: Node): Node | undefined {
  return m.usedOnlyBy(value, reader) ? m.def(value, "Transpose") : undefined;
}

/** transpose_<which> and perm_<which> for an operand read through `transpose` (none: nothing). */
export function transposeAttrs(transpose: Node | undefined, which: string): Attrs {
  if (!transpose) return {};
  const perm = attrInts(transpose.attrs, "perm");
  return { [`transpose_${which}`]: { type: "int", value: 1 }, ...(perm ? { [`perm_${which}`]: { type: "ints", value: [...perm] } } : {}) };
}

export const TRANSPOSE_MATMUL = definePattern<{ a: string; b: string; attrs: Attrs }>({
  name: "MatMul", root: "MatMul",
  match(root, m) {
    const [a, b] = root.inputs as [string, string];
    if (a === b) return undefined;
    const [ta, tb] = [soleTranspose(m, a, root), soleTranspose(m, b, root)];
    if (!ta && !tb) return undefined;
    return { a: ta ? ta.inputs[0]! : a, b: tb ? tb.inputs[0]! : b, attrs: { ...transposeAttrs(ta, "a"), ...transposeAttrs(tb, "b") } };
  },
  build: ({ a, b, attrs }, root) => [fusedNode(root, "TransposeMatMul", [a, b], attrs, { domain: EXACT_DOMAIN })],
});
