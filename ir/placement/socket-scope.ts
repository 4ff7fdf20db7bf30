// What one socket of a node-level plan sees of it, as pure functions of the
// plan: its pipeline stage's share of the memory (allocations, view aliases,
// load-time transfers), the graph nodes rebound to the per-socket program's
// names and shapes, and the operand shapes a member computes with. The runtime
// (targets/runtime/parallel.ts) runs sockets with them and the legality check
// checks them with them, so the two see one socket alike.
//
// The plan's dataflow module is the program every member of a group runs
// (SPMD, compiler/node/tensor-parallel.ts). Its kernels still name the graph
// nodes they were lowered from, but some read or write renamed tensors
// (`x/gathered`, `x/dispatched`, `t/partial`, `t/expert`, `t/shard`: what a
// collective makes whole or consumes), and a few attributes depend on the
// split: attention's kv_groups is local query heads over local KV heads.

import type { Node } from "../graph/graph.js";
import type { DfKernel } from "../dataflow/dataflow.js";
import { viewAliases } from "../dataflow/dataflow.js";
import type { Allocation, ParallelStage, Plan, TensorShard, Transfer } from "./plan.js";
import { fail } from "../diagnostics.js";

/** Which part of a tensor split into `parts` group member `member` of a group of `group` holds. */
export function partOf(member: number, parts: number, group: number): number {
  return Math.floor((member * parts) / group);
}

export interface StageScope {
  readonly allocations: readonly Allocation[];
  readonly aliases: ReadonlyMap<string, string>;
  /** Load time fills the allocations that start here. */
  readonly firstSection: number;
  /** The stage's transfers: its sections', and the load-time ones into its own allocations. */
  readonly transfers: readonly Transfer[];
}

/** What one stage's sockets hold: its allocations, view aliases and load-time transfers. */
export function stageScope(plan: Plan, stage: ParallelStage): StageScope {
  const inStage = (section: number) => section >= stage.firstSection && section <= stage.lastSection;
  const names = new Set(plan.sections.filter((_, i) => inStage(i)).flatMap((s) => s.kernels.map((k) => k.kernel)));
  const allocations = plan.allocations.filter((a) => inStage(a.firstSection));
  const held = new Set(allocations.map((a) => `${a.tensor} ${a.tier}`));
  const seen = new Set<string>();
  // Load-time transfers carry no stage: a stage takes those into its own allocations (a constant two stages read is loaded by both).
  const transfers = plan.transfers.filter((t) => {
    const key = `${t.tensor} ${t.to}`;
    if (t.beforeSection >= 0) return inStage(t.beforeSection);
    if (!held.has(key) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { allocations, transfers, firstSection: stage.firstSection, aliases: viewAliases({ ...plan.dataflow, kernels: plan.dataflow.kernels.filter((k) => names.has(k.name)) }) };
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
  for (const k of plan.dataflow.kernels) for (const n of k.nodes) (kernelsOf.get(n) ?? kernelsOf.set(n, []).get(n)!).push(k);
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

/** How a member's operands differ from what its memory holds (runtime: socket-program.ts). */
export interface MemberOperands {
  /** A row-parallel product's bias: all-reduced partial sums take it once, from member 0. */
  readonly partialSum: ReadonlySet<string>;
  readonly shards: ReadonlyMap<string, TensorShard>;
  readonly tensors: ReadonlyMap<string, readonly number[]>;
}

export function memberOperands(plan: Plan): MemberOperands {
  const allReduced = new Set(plan.parallel!.collectiveKernels.filter((c) => c.kind === "all-reduce").map((c) => c.kernel));
  return {
    partialSum: new Set(plan.dataflow.kernels.filter((k) => allReduced.has(k.name)).map((k) => k.inputs[0]!)),
    shards: new Map(plan.parallel!.shards.map((s) => [s.tensor, s])),
    tensors: new Map(plan.dataflow.tensors.map((t) => [t.name, t.shape])),
  };
}

/**
 * A column-parallel product whose bias other kernels read whole computes with
 * its own columns of it: the shape of that slice, or undefined when the bias is
 * used as it is.
 */
export function biasColumns(m: MemberOperands, k: DfKernel, bias: { readonly name: string; readonly shape: readonly number[] }): number[] | undefined {
  if (k.kind !== "matmul" || m.shards.has(bias.name) || m.partialSum.has(k.outputs[0] ?? "")) return undefined;
  const split = m.shards.get(k.outputs[0] ?? ""), local = m.tensors.get(k.outputs[0] ?? "");
  const last = bias.shape.length - 1;
  if (!split || !local || split.axis !== local.length - 1 || last < 0 || bias.shape[last] !== local[split.axis]! * split.parts) return undefined;
  return [...bias.shape.slice(0, -1), local[split.axis]!];
}

/** The stage whose sections produce each graph output. */
export function outputStages(plan: Plan, outputs: readonly string[]): Map<number, string[]> {
  const sectionOf = new Map<string, number>();
  plan.sections.forEach((s, i) => s.kernels.forEach((k) => sectionOf.set(k.kernel, i)));
  const stageOf = (section: number) => plan.parallel!.stages.findIndex((s) => s.firstSection <= section && section <= s.lastSection);
  const byStage = new Map<number, string[]>();
  for (const name of new Set(outputs)) {
    const producer = plan.dataflow.kernels.find((k) => k.outputs.includes(name));
    const section = producer ? sectionOf.get(producer.name) : undefined;
    if (section === undefined) fail(`graph output '${name}' is produced by no kernel of the plan's sections`);
    const stage = stageOf(section);
    byStage.set(stage, [...(byStage.get(stage) ?? []), name]);
  }
  return byStage;
}
