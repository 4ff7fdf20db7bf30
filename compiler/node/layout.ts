// Parallel layouts: how a model's copies and pieces are spread over a node's
// sockets. `--parallel tp=4,pp=2` names one; `--parallel auto` tries them all.
//
//   tp  tensor parallelism: attention heads and MLP columns split over a group
//   pp  pipeline parallelism: layers split into stages, one group per stage
//   ep  expert parallelism: the experts of each MoE layer spread over the group
//       (ep = tp: the group's tokens are replicated and an all-reduce combines;
//       tp = 1: each socket runs attention on its share of the batch and tokens
//       go to their experts' sockets and back all-to-all)
//   dp  data parallelism: independent replicas, each serving its own batch
//   mb  micro-batches a replica's batch is cut into for the pipeline
// A replica takes group x pp sockets, where group = max(tp, ep).

import { fail } from "../../ir/diagnostics.js";
import type { DataflowModule } from "../../ir/dataflow/dataflow.js";
import type { Target } from "../../targets/target.js";
import { socketCount } from "../../targets/target.js";

/** How a model's copies and pieces are spread over a node's sockets: one degree of each parallelism. */
export interface ParallelLayout {
  /** Tensor parallelism: attention heads and MLP columns split over a group of sockets. */
  readonly tp: number;
  /** Pipeline parallelism: layers split into stages, one group per stage. */
  readonly pp: number;
  /** Expert parallelism: the experts of each MoE layer spread over the group. */
  readonly ep: number;
  /** Data parallelism: independent replicas, each serving its own batch. */
  readonly dp: number;
  /** Micro-batches a replica's batch is cut into for the pipeline. */
  readonly microBatches: number;
}

/**
 * A `CompileOptions.parallel` request, parsed: try every layout ("auto"), or the degrees
 * given, the rest chosen (what `--parallel tp=4,pp=2` means).
 */
export type ParallelRequest =
  | { readonly kind: "auto" }
  | { readonly kind: "layout"; readonly tp?: number; readonly pp?: number; readonly ep?: number; readonly dp?: number; readonly mb?: number };

/** What the layout checks need to know about the model (read from its dataflow module). */
export interface ModelFacts {
  /** 0 for a model without attention. */
  readonly heads: number;
  readonly kvHeads: number;
  /** Attention layers (the unit pipeline stages are cut in). */
  readonly layers: number;
  /** Experts per MoE layer; 0 for a dense model. */
  readonly experts: number;
}

const KEYS = ["tp", "pp", "ep", "dp", "mb"] as const;

export function parseParallel(text: string, flag = "--parallel"): ParallelRequest {
  if (text === "auto") return { kind: "auto" };
  const out: Record<string, number> = {};
  for (const part of text.split(",")) {
    const m = /^([a-z]+)=(\d+)$/.exec(part.trim());
    if (!m) fail(`${flag} '${text}': expected 'auto' or KEY=N[,KEY=N...] with keys ${KEYS.join(", ")} (e.g. tp=4,pp=2)`);
    const [, key, value] = m as unknown as [string, string, string];
    if (!(KEYS as readonly string[]).includes(key)) fail(`${flag} '${text}': unknown key '${key}' (keys: ${KEYS.join(", ")})`);
    if (key in out) fail(`${flag} '${text}': '${key}' is given twice`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1) fail(`${flag} '${text}': ${key} must be a positive integer`);
    out[key] = n;
  }
  return { kind: "layout", ...out };
}

export function formatLayout(l: ParallelLayout): string {
  return [`tp=${l.tp}`, `pp=${l.pp}`, ...(l.ep > 1 ? [`ep=${l.ep}`] : []), `dp=${l.dp}`, ...(l.microBatches > 1 ? [`mb=${l.microBatches}`] : [])].join(",");
}

export function groupSize(l: ParallelLayout): number {
  return Math.max(l.tp, l.ep);
}

export function socketsUsed(l: ParallelLayout): number {
  return groupSize(l) * l.pp * l.dp;
}

/** Batch each socket's program is lowered for: a micro-batch, and a share of it under data-parallel attention. */
export function loweredBatch(l: ParallelLayout, batch: number): number {
  const share = l.tp === 1 && l.ep > 1 ? l.ep : 1;
  return batch / l.microBatches / share;
}

export function modelFacts(m: DataflowModule): ModelFacts {
  const tensors = new Map(m.tensors.map((t) => [t.name, t]));
  // Attention kernels (fused, or the stages of an unfused one) take q [b, heads, s, d] first and k [b, KV heads, s, d] second.
  const attention = m.kernels.filter((k) => k.ops.includes("tierflow.Attention") || (k.kind === "matmul" && k.outputs[0]?.endsWith("/scores")));
  const q = attention[0] && tensors.get(attention[0].inputs[0]!);
  const kv = attention[0] && tensors.get(attention[0].inputs[1]!);
  const experts = m.kernels.find((x) => x.ops.includes("tierflow.MoEExperts"));
  return {
    heads: q?.shape.length === 4 ? q.shape[1]! : 0,
    kvHeads: kv?.shape.length === 4 ? kv.shape[1]! : 0,
    layers: new Set(attention.map((k) => k.nodes[0])).size,
    experts: experts ? tensors.get(experts.inputs[3]!)?.shape[0] ?? 0 : 0,
  };
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

/** Why a layout cannot run this model on this target at this batch, or undefined when it can. */
export function layoutProblem(l: ParallelLayout, target: Target, facts: ModelFacts, batch: number): string | undefined {
  const sockets = socketCount(target);
  const group = groupSize(l);
  if (sockets % group !== 0) return `${target.name} has ${sockets} sockets, which groups of ${group} do not divide (use ${divisors(sockets).filter((d) => d > 1).join(", ")})`;
  if (socketsUsed(l) > sockets) return `it needs ${group} x ${l.pp} x ${l.dp} = ${socketsUsed(l)} sockets; ${target.name} has ${sockets}`;
  if (l.tp > 1 && facts.heads === 0) return `tp=${l.tp}: the model has no attention layers (tensor parallelism splits attention heads and the products around them)`;
  if (facts.heads % l.tp !== 0) return `tp=${l.tp} does not divide the model's ${facts.heads} attention heads`;
  if (l.tp > 1 && l.tp % facts.kvHeads !== 0 && facts.kvHeads % l.tp !== 0) {
    return `tp=${l.tp} and the model's ${facts.kvHeads} KV heads: one must divide the other`;
  }
  if (l.ep > 1 && facts.experts === 0) return `ep=${l.ep}: the model has no mixture-of-experts layers`;
  if (l.ep > 1 && l.tp > 1 && l.ep !== l.tp) return `ep=${l.ep} with tp=${l.tp}: experts are spread over the tensor-parallel group, so ep must be 1 or equal tp`;
  if (l.ep > 1 && facts.experts % l.ep !== 0) return `ep=${l.ep} does not divide the model's ${facts.experts} experts`;
  if (l.pp > Math.max(1, facts.layers)) return `pp=${l.pp} is more stages than the model's ${facts.layers} layers`;
  if (batch % l.microBatches !== 0) return `${l.microBatches} micro-batches do not divide the batch of ${batch}`;
  if (l.tp === 1 && l.ep > 1 && (batch / l.microBatches) % l.ep !== 0) {
    return `ep=${l.ep} with tp=1 gives each socket a share of the batch: ${batch / l.microBatches} is not a multiple of ${l.ep}`;
  }
  return undefined;
}

/** Micro-batches a pipeline of `pp` stages wants: enough to fill it, dividing the batch. */
export function defaultMicroBatches(pp: number, batch: number): number {
  if (pp === 1) return 1;
  return Math.max(...divisors(batch).filter((d) => d <= pp));
}

/** The layout a `--parallel` request names, checked; dp fills the node when not given. */
export function resolveLayout(request: Exclude<ParallelRequest, { kind: "auto" }>, target: Target, facts: ModelFacts, batch: number, flag = "--parallel"): ParallelLayout {
  const tp = request.tp ?? 1, pp = request.pp ?? 1;
  const ep = request.ep ?? (facts.experts > 0 && tp > 1 && facts.experts % tp === 0 ? tp : 1);
  const group = Math.max(tp, ep);
  const sockets = socketCount(target);
  const dp = request.dp ?? Math.max(1, Math.floor(sockets / (group * pp)));
  const layout = { tp, pp, ep, dp, microBatches: request.mb ?? defaultMicroBatches(pp, batch) };
  const problem = layoutProblem(layout, target, facts, batch);
  if (problem) fail(`${flag} ${formatLayout(layout)}: ${problem}`);
  return layout;
}

/** Every layout of one replica shape (tp, pp, ep) that runs, with dp filling the node. */
export function enumerateLayouts(target: Target, facts: ModelFacts, batch: number): ParallelLayout[] {
  const sockets = socketCount(target);
  const out: ParallelLayout[] = [];
  for (const tp of divisors(sockets)) {
    for (const pp of divisors(sockets / tp)) {
      const eps = facts.experts > 0 ? [...new Set([tp > 1 ? tp : 1, ...(tp === 1 ? divisors(sockets / pp).filter((e) => e > 1) : [])])] : [1];
      for (const ep of eps) {
        const group = Math.max(tp, ep);
        if ((sockets / pp) % group !== 0) continue;
        const layout = { tp, pp, ep, dp: sockets / (group * pp), microBatches: defaultMicroBatches(pp, batch) };
        if (!layoutProblem(layout, target, facts, batch)) out.push(layout);
      }
    }
  }
  return out;
}
