// What one socket of a node-level plan needs beyond the single-socket runtime:
// its part of every sharded tensor, the graph nodes rebound to the names and
// shapes of the per-socket program, and the few operands that differ between
// members of a group.
//
// The plan's dataflow module is the program every member of a group runs
// (SPMD, compiler/node/tensor-parallel.ts). Its kernels still name the graph
// nodes they were lowered from, but some read or write renamed tensors
// (`x/gathered`, `x/dispatched`, `t/partial`, `t/expert`, `t/shard`: what a
// collective makes whole or consumes), and a few attributes depend on the
// split: attention's kv_groups is local query heads over local KV heads (with
// more sockets than KV heads both are 1 per socket). Two things depend on the
// member: a row-parallel product's bias is added once, by member 0, since the
// all-reduce sums every member's partial product (and a column-parallel
// product whose bias stays whole, because a norm reads it too, adds its own
// columns of it); and a socket holding
// experts [base, base + n) of an MoE layer computes only the routed slots that
// pick one of them (indices shifted by base, other slots weighted 0), so the
// sum over the group is the whole layer.

import type { Node } from "../../ir/graph/graph.js";
import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import type { Plan, TensorShard } from "../../ir/placement/plan.js";
import { fail } from "../../ir/diagnostics.js";
import type { Tensor } from "../../ir/tensor.js";
import { bytesToTensor, tensorToBytes } from "./bytes.js";
import type { Operand } from "./operands.js";
import { elemBytes } from "./operands.js";
import { product } from "./tiles.js";

/** Which part of a tensor split into `parts` group member `member` of a group of `group` holds. */
export function partOf(member: number, parts: number, group: number): number {
  return Math.floor((member * parts) / group);
}

/** Bytes of part `part` of `parts` along `axis` of a row-major tensor of `dims` with `elem`-byte elements. */
export function slicePart(bytes: Uint8Array, dims: readonly number[], elem: number, axis: number, parts: number, part: number, what: string): Uint8Array {
  const length = dims[axis];
  if (length === undefined || length % parts !== 0) {
    fail(`shard of '${what}' splits axis ${axis} of [${dims.join(", ")}] into ${parts} parts, which do not divide it`);
  }
  const outer = product(dims.slice(0, axis)), inner = product(dims.slice(axis + 1)) * elem, chunk = (length / parts) * inner;
  if (bytes.byteLength !== outer * length * inner) fail(`'${what}' has ${bytes.byteLength} bytes, its shape [${dims.join(", ")}] needs ${outer * length * inner}`);
  const out = new Uint8Array(outer * chunk);
  for (let r = 0; r < outer; r++) out.set(bytes.subarray(r * length * inner + part * chunk, r * length * inner + (part + 1) * chunk), r * chunk);
  return out;
}

/** The kernel's own name for a node's value: the same, or the one renamed `value/<suffix>` by the node-level passes. */
function kernelName(value: string, names: readonly string[]): string {
  if (value === "" || names.includes(value)) return value;
  const renamed = names.filter((n) => n.startsWith(`${value}/`));
  return renamed.length === 1 ? renamed[0]! : value;
}

/**
 * The graph nodes as the per-socket program runs them: inputs and outputs
 * under the kernel's names, attention's kv_groups from the local head counts.
 * A node several kernels implement (attention at -O0) keeps its names.
 */
export function socketNodes(plan: Plan, nodes: ReadonlyMap<string, Node>): Map<string, Node> {
  const tensors = new Map(plan.dataflow.tensors.map((t) => [t.name, t]));
  const kernelsOf = new Map<string, DfKernel[]>();
  for (const k of plan.dataflow.kernels) for (const n of k.nodes) kernelsOf.set(n, [...(kernelsOf.get(n) ?? []), k]);
  const out = new Map(nodes);
  for (const [name, ks] of kernelsOf) {
    const node = nodes.get(name);
    if (!node) continue;
    let rebound: Node = node;
    if (ks.length === 1) {
      const k = ks[0]!;
      rebound = { ...node, inputs: node.inputs.map((v) => kernelName(v, k.inputs)), outputs: node.outputs.map((v) => kernelName(v, k.outputs)) };
    }
    if (node.domain === "tierflow" && node.op === "Attention") {
      const k = ks[0]!;
      const q = tensors.get(k.inputs[0] ?? "")?.shape[1], kv = tensors.get(k.inputs[1] ?? "")?.shape[1];
      if (q !== undefined && kv !== undefined && kv > 0 && q % kv === 0) rebound = { ...rebound, attrs: { ...rebound.attrs, kv_groups: { type: "int", value: q / kv } } };
    }
    out.set(name, rebound);
  }
  return out;
}

/** Replace an operand's bytes (the residency checks already ran on the real ones). */
function withBytes(o: Operand, bytes: Uint8Array): Operand {
  return { ...o, bytes };
}

/** Routing of the slots that pick experts [base, base + count): indices shifted to local experts, other slots weighted 0. */
function localRouting(weights: Operand, indices: Operand, base: number, count: number): [Operand, Operand] {
  const w = bytesToTensor(weights.bytes!.slice(), weights.storage, weights.dtype, weights.shape);
  const e = bytesToTensor(indices.bytes!.slice(), indices.storage, indices.dtype, indices.shape);
  const wd = w.data as Float32Array | Float64Array, ed = e.data as BigInt64Array;
  for (let i = 0; i < ed.length; i++) {
    const local = Number(ed[i]!) - base;
    const mine = local >= 0 && local < count;
    ed[i] = BigInt(mine ? local : 0);
    if (!mine) wd[i] = 0;
  }
  return [withBytes(weights, tensorToBytes(w as Tensor, weights.storage)), withBytes(indices, tensorToBytes(e as Tensor, indices.storage))];
}

export type OperandAdjuster = (k: DfKernel, inputs: readonly (Operand | undefined)[]) => (Operand | undefined)[];

/** The operands member `member` of a group of `group` computes with, where they differ from what its memory holds. */
export function memberOperands(plan: Plan, member: number, group: number): OperandAdjuster {
  const shards = new Map<string, TensorShard>(plan.parallel!.shards.map((s) => [s.tensor, s]));
  const allReduced = new Set(plan.parallel!.collectiveKernels.filter((c) => c.kind === "all-reduce").map((c) => c.kernel));
  const partial = new Set(plan.dataflow.kernels.filter((k) => allReduced.has(k.name)).map((k) => k.inputs[0]!));
  const tensors = new Map(plan.dataflow.tensors.map((t) => [t.name, t.shape]));
  return (k, inputs) => {
    const out = [...inputs];
    if (k.ops[0] === "tierflow.MoEExperts") {
      const shard = shards.get(k.inputs[3] ?? "");
      const [, weights, indices, gateUp] = inputs;
      if (shard && shard.axis === 0 && weights?.bytes && indices?.bytes && gateUp) {
        const count = gateUp.shape[0]!;
        [out[1], out[2]] = localRouting(weights, indices, partOf(member, shard.parts, group) * count, count);
      }
      return out;
    }
    const bias = inputs[2];
    if (k.kind !== "matmul" || !bias?.bytes || shards.has(bias.name)) return out;
    // A row-parallel product: every member's partial sum is all-reduced, so the bias goes in once.
    if (partial.has(k.outputs[0] ?? "")) {
      if (member !== 0) out[2] = withBytes(bias, new Uint8Array(bias.bytes.byteLength));
      return out;
    }
    // A column-parallel product whose bias other kernels read whole: this member's columns of it.
    const split = shards.get(k.outputs[0] ?? ""), local = tensors.get(k.outputs[0] ?? "");
    const last = bias.shape.length - 1;
    if (split && local && split.axis === local.length - 1 && last >= 0 && bias.shape[last] === local[split.axis]! * split.parts) {
      const part = partOf(member, split.parts, group);
      out[2] = { ...bias, shape: [...bias.shape.slice(0, -1), local[split.axis]!], bytes: slicePart(bias.bytes, bias.shape, elemBytes(bias), last, split.parts, part, bias.name) };
    }
    return out;
  };
}
