// Which matrix products tensor parallelism splits, and how: the column/row
// pairs of Megatron-LM (Shoeybi et al., "Megatron-LM: Training Multi-Billion
// Parameter Language Models Using Model Parallelism", 2019, section 3).
//
// Algorithm: a product with a weight is row-parallel when everything its
// activation comes from, walking back through views, transposes, pointwise
// ops on same-shaped operands (SwiGLU, rotary embedding) and attention (its q,
// k and v), are products with weights: those are column-parallel. This finds
// q/k/v -> attention -> o and gate/up -> SwiGLU -> down, with one all-reduce
// after each row-parallel product. A product that feeds a graph output through
// pointwise ops and views (the LM head) is column-parallel too, its output
// gathered at the end (vocabulary-parallel logits). Column products that feed
// attention's keys and values are split into min(R, KV heads) parts: with
// more sockets than KV heads, each KV head is kept by R / KV-heads sockets,
// the grouped-query layout Megatron uses.
// Known weakness: other patterns stay replicated: a fused QKV product split
// afterwards (GPT-2's c_attn), a norm between the pair, a weight read by two
// kernels (tied embeddings), convolutions. The propagation pass then inserts
// gathers where it must, which is correct but not fast.

import type { DataflowModule, DfKernel, DfTensor } from "../../ir/dataflow/dataflow.js";
import type { Attrs } from "../../ir/graph/graph.js";
import { attrInt } from "../../ir/graph/graph.js";
import { viewAliases } from "../place/placement.js";

export type MatmulRole =
  | { readonly role: "column"; readonly parts: number; readonly weight: string; readonly weightAxis: number }
  | { readonly role: "row"; readonly weight: string; readonly weightAxis: number };

const WEIGHT_ROLES = new Set(["weight", "constant"]);

/** The 2-D weight of a matrix-product kernel (its second input) and whether it is stored transposed (Gemm transB). */
export function weightOf(k: DfKernel, tensors: ReadonlyMap<string, DfTensor>, attrs: Attrs | undefined): { name: string; transposed: boolean } | undefined {
  // Quantized products (DequantMatMul, MatMulNBits) keep their weights whole: their scales would have to split alongside.
  if (k.kind !== "matmul" || !["MatMul", "Gemm", "tierflow.MatMulBias"].includes(k.ops[0] ?? "")) return undefined;
  const w = tensors.get(k.inputs[1] ?? "");
  const a = tensors.get(k.inputs[0] ?? "");
  if (!w || !a || !WEIGHT_ROLES.has(w.role) || w.shape.length !== 2 || WEIGHT_ROLES.has(a.role)) return undefined;
  const transposed = k.ops[0] === "Gemm" && (attrs ? attrInt(attrs, "transB") ?? 0 : 0) === 1;
  if (k.ops[0] === "Gemm" && attrs && (attrInt(attrs, "transA") ?? 0) === 1) return undefined;
  return { name: w.name, transposed };
}

/** Decide the role of every matrix product under a tensor-parallel group of `sockets`. */
export function matmulRoles(m: DataflowModule, sockets: number, attrsOf: (k: DfKernel) => Attrs | undefined): Map<string, MatmulRole> {
  const roles = new Map<string, MatmulRole>();
  if (sockets <= 1) return roles;
  const tensors = new Map(m.tensors.map((t) => [t.name, t]));
  const aliases = viewAliases(m);
  const producer = new Map<string, DfKernel>();
  for (const k of m.kernels) for (const o of k.outputs) producer.set(o, k);
  const consumers = new Map<string, DfKernel[]>();
  for (const k of m.kernels) for (const i of new Set(k.inputs)) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(k);
  const weights = new Map<string, { name: string; transposed: boolean }>();
  for (const k of m.kernels) {
    const w = weightOf(k, tensors, attrsOf(k));
    // A weight other kernels read too (tied embeddings) stays whole.
    if (w && (consumers.get(w.name) ?? []).length === 1) weights.set(k.name, w);
  }
  const sameShape = (a: DfTensor | undefined, b: DfTensor | undefined) => !!a && !!b && a.shape.join() === b.shape.join();

  // Products with weights that `tensor` is computed from, or undefined when anything else contributes.
  const memo = new Map<string, Set<string> | undefined>();
  const leaves = (tensor: string): Set<string> | undefined => {
    const name = aliases.get(tensor) ?? tensor;
    if (memo.has(name)) return memo.get(name);
    memo.set(name, undefined); // a cycle cannot occur; this also bounds the walk
    const p = producer.get(name);
    let result: Set<string> | undefined;
    if (p && weights.has(p.name)) result = new Set([p.name]);
    else if (p && (p.kind === "layout" && p.ops[0] === "Transpose")) result = leaves(p.inputs[0]!);
    else if (p && p.kind === "attention" && p.ops[0] === "tierflow.Attention") result = union(p.inputs.slice(0, 3).map(leaves));
    // A graph's own KV cache: its new keys or values come from the products (the cached ones were split alike).
    else if (p && p.kind === "cache") result = leaves(p.inputs[1]!);
    else if (p && p.kind === "elementwise" && !p.ops[0]!.includes("MoE")) {
      const out = tensors.get(p.outputs[0]!);
      const followed = p.inputs.filter((i) => tensors.get(i)?.role === "activation" && sameShape(tensors.get(i), out));
      result = followed.length > 0 ? union(followed.map(leaves)) : undefined;
    }
    memo.set(name, result);
    return result;
  };

  for (const k of m.kernels) {
    const w = weights.get(k.name);
    if (!w) continue;
    const rows = tensors.get(w.name)!.shape[w.transposed ? 1 : 0]!;
    const from = leaves(k.inputs[0]!);
    if (!from || from.size === 0 || rows % sockets !== 0 || from.has(k.name)) continue;
    const columns = [...from].map((c) => ({ c, w: weights.get(c)! }));
    if (columns.some(({ c, w: cw }) => roles.get(c)?.role === "row" || tensors.get(cw.name)!.shape[cw.transposed ? 0 : 1]! % sockets !== 0)) continue;
    roles.set(k.name, { role: "row", weight: w.name, weightAxis: w.transposed ? 1 : 0 });
    for (const { c, w: cw } of columns) roles.set(c, { role: "column", parts: sockets, weight: cw.name, weightAxis: cw.transposed ? 0 : 1 });
  }
  // Keys and values: as many parts as KV heads when the group is larger.
  for (const k of m.kernels) {
    if (k.kind !== "attention" || k.ops[0] !== "tierflow.Attention") continue;
    const kvHeads = tensors.get(k.inputs[1]!)?.shape[1] ?? sockets;
    const parts = Math.min(sockets, kvHeads);
    for (const input of k.inputs.slice(1, 3)) {
      for (const c of leaves(input) ?? []) {
        const r = roles.get(c);
        if (r?.role === "column") roles.set(c, { ...r, parts });
      }
    }
  }
  // The LM head: a product whose output reaches a graph output through pointwise ops and views.
  const outputs = new Set(m.outputs);
  for (const k of m.kernels) {
    const w = weights.get(k.name);
    if (!w || roles.has(k.name) || tensors.get(w.name)!.shape[w.transposed ? 0 : 1]! % sockets !== 0) continue;
    let t = k.outputs[0]!;
    for (let steps = 0; steps < 8 && !outputs.has(t); steps++) {
      const next = consumers.get(t) ?? [];
      if (next.length !== 1 || !["view", "elementwise"].includes(next[0]!.kind) || next[0]!.inputs.length !== 1) break;
      t = next[0]!.outputs[0]!;
    }
    if (outputs.has(t)) roles.set(k.name, { role: "column", parts: sockets, weight: w.name, weightAxis: w.transposed ? 0 : 1 });
  }
  return roles;
}

function union(sets: readonly (Set<string> | undefined)[]): Set<string> | undefined {
  if (sets.some((s) => s === undefined)) return undefined;
  return new Set(sets.flatMap((s) => [...s!]));
}
