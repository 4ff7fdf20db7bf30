// Exact composites (domain "tierflow.exact"): what the reference interpreter's
// fused steps build (ir/graph/patterns, INTERPRETER_PATTERNS) where a block of
// exported nodes has a faster kernel that rounds exactly as those nodes do.
// Each op's decomposition is the nodes it replaces, in their order and with
// their operand order, so its values are theirs to the bit; what the nodes
// leave free (the scale as a Mul or a Div, the Transposes' perms, an
// activation's constants) is carried in attributes or inputs. The graph
// fusion pass never builds them and lowering has no kind for them: a node of
// one that reaches the compiler is decomposed by expand-ops like any op of
// another domain. Inference is the decomposition's, node by node.

import type { Attrs } from "../graph.js";
import type { OpDef } from "../op-def.js";
import { intAttr, intsAttr } from "./util.js";
import { Decomposition, attr } from "./decompose.js";
import { defineExact } from "./exact.js";
import { EXACT_ATTENTION_OPS } from "./composite-exact-attention.js";
import { EXACT_ACTIVATION_OPS } from "./composite-exact-activation.js";

const MATMUL_ADD = defineExact({
  op: "MatMulAdd", inputs: [3, 3],
  doc: `MatMulAdd(a, b, c) = Add(MatMul(a, b), c), or Add(c, MatMul(a, b)) with c_first = 1; c any tensor that
  broadcasts with the product (a bias row, a full addend).
  %y = "tierflow.exact".MatMulAdd(%x, %w, %b) {c_first = 0} : f32[batch, seq, 128]`,
  attrs: { c_first: { type: "int", default: 0 } },
  decompose(node) {
    const d = new Decomposition(node);
    const [a, b, c] = node.inputs as [string, string, string];
    const product = d.one("MatMul", [a, b]);
    d.result(0, "Add", intAttr(node.attrs, "c_first", 0) ? [c, product] : [product, c]);
    return d.nodes;
  },
});

const GATHER_MATMUL = defineExact({
  op: "GatherMatMul", inputs: [3, 3],
  doc: `GatherMatMul(table, indices, b) = MatMul(Gather(table, indices, axis = 0), b), or with nd = 1
  MatMul(GatherND(table, indices), b): a mixture of experts' per-token weights picked from a table.
  %y = "tierflow.exact".GatherMatMul(%experts, %idx, %x) {nd = 0} : f32[tokens, 64, 1]`,
  attrs: { nd: { type: "int", default: 0 } },
  decompose(node) {
    const d = new Decomposition(node);
    const [table, indices, b] = node.inputs as [string, string, string];
    const gathered = intAttr(node.attrs, "nd", 0)
      ? d.one("GatherND", [table, indices], { batch_dims: attr.int(0) })
      : d.one("Gather", [table, indices], { axis: attr.int(0) });
    d.result(0, "MatMul", [gathered, b]);
    return d.nodes;
  },
});

/** Transpose's attributes for an operand of TransposeMatMul: its perm, or none for Transpose's default (reversed axes). */
const transposeAttrs = (attrs: Attrs, which: "a" | "b"): Attrs => {
  const perm = intsAttr(attrs, `perm_${which}`);
  return perm ? { perm: attr.ints(perm) } : {};
};

const TRANSPOSE_MATMUL = defineExact({
  op: "TransposeMatMul", inputs: [2, 2],
  doc: `TransposeMatMul(a, b) = MatMul(A, B), where A is Transpose(a, perm_a) with transpose_a = 1, else a, and B likewise;
  a perm left out is Transpose's default (the axes reversed).
  %s = "tierflow.exact".TransposeMatMul(%q, %k) {perm_b = [0, 2, 3, 1], transpose_b = 1} : f32[batch, 4, seq, seq]`,
  attrs: {
    transpose_a: { type: "int", default: 0 }, transpose_b: { type: "int", default: 0 },
    perm_a: { type: "ints" }, perm_b: { type: "ints" },
  },
  decompose(node) {
    const d = new Decomposition(node);
    const [a, b] = (["a", "b"] as const).map((w, k) => (intAttr(node.attrs, `transpose_${w}`, 0)
      ? d.one("Transpose", [node.inputs[k]!], transposeAttrs(node.attrs, w)) : node.inputs[k]!));
    d.result(0, "MatMul", [a!, b!]);
    return d.nodes;
  },
});

export const EXACT_OPS: readonly OpDef[] = [MATMUL_ADD, GATHER_MATMUL, TRANSPOSE_MATMUL, ...EXACT_ATTENTION_OPS, ...EXACT_ACTIVATION_OPS];
