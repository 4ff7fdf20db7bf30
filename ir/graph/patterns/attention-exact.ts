// Attention as the reference interpreter runs it (INTERPRETER_PATTERNS), every
// node's rounding kept:
//   MatMul(Cast*(Softmax(Add(Mul/Div(MatMul(Q, K^T), s), mask))), V) -> tierflow.exact.Attention
// the scale, the mask and the Casts to float32 optional, and Transposes of Q,
// K^T and V read through where nothing else reads them. Unlike the graph
// pattern (attention.ts), the scale is any value (a Mul or a Div, kept as the
// graph has it) and the keys any layout, as the fused kernel takes them.

import type { Node } from "../graph.js";
import { attrInt } from "../graph.js";
import { DTYPES } from "../../dtype.js";
import { EXACT_DOMAIN } from "../ops/exact.js";
import type { Attrs } from "../graph.js";
import type { Matcher } from "./pattern.js";
import { definePattern, fusedNode } from "./pattern.js";
import { soleTranspose, transposeAttrs } from "./matmul-exact.js";
import { maskedBy, overLastAxis, scaledBy } from "./softmax-exact.js";

interface AttentionBindings { inputs: string[]; attrs: Attrs }

/** The scores' MatMul of two distinct values. */
const product = (m: Matcher, value: string): Node | undefined => {
  const mm = m.def(value, "MatMul");
  return mm && mm.inputs[0] !== mm.inputs[1] ? mm : undefined;
};

/** Casts to float32 ending at `value`; returns the value they start from and whether there were any. */
function floatCasts(m: Matcher, value: string): { from: string; cast: boolean } {
  let cast = false;
  for (;;) {
    const c = m.first(() => {
      const node = m.def(value, "Cast");
      return node && attrInt(node.attrs, "to") === DTYPES.f32.onnx ? node : undefined;
    });
    if (!c) return { from: value, cast };
    value = c.inputs[0]!;
    cast = true;
  }
}

/** Named as profiles call the step. */
export const ATTENTION_EXACT = definePattern<AttentionBindings>({
  name: "Attention", root: "MatMul",
  match(root, m) {
    const [probs, v] = root.inputs as [string, string];
    if (probs === v) return undefined;
    const { from, cast } = floatCasts(m, probs);
    const softmax = m.def(from, "Softmax");
    if (!softmax || !overLastAxis(m, softmax)) return undefined;
    const found = maskedBy(m, softmax.inputs[0]!, (x) => m.first<{ inner: Node; scale?: string; divide: boolean }>(
      () => {
        const mm = product(m, x);
        return mm && { inner: mm, divide: false };
      },
      () => scaledBy(m, x, (s) => product(m, s)),
    ));
    if (!found) return undefined;
    const { inner: qk, scale, divide } = found.inner;
    const [tq, tk, tv] = [soleTranspose(m, qk.inputs[0]!, qk), soleTranspose(m, qk.inputs[1]!, qk), soleTranspose(m, v, root)];
    const source = (value: string, t: Node | undefined) => (t ? t.inputs[0]! : value);
    const inputs = [source(qk.inputs[0]!, tq), source(qk.inputs[1]!, tk), source(v, tv), scale ?? "", found.mask ?? ""];
    while (inputs[inputs.length - 1] === "") inputs.pop();
    const attrs: Attrs = {
      ...transposeAttrs(tq, "q"), ...transposeAttrs(tk, "k"), ...transposeAttrs(tv, "v"),
      ...(divide ? { divide: { type: "int", value: 1 } } : {}), ...(cast ? { cast_probs: { type: "int", value: 1 } } : {}),
    };
    return { inputs, attrs };
  },
  build: ({ inputs, attrs }, root) => [fusedNode(root, "Attention", inputs, attrs, { domain: EXACT_DOMAIN })],
});
