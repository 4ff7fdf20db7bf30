// Pipeline parallelism: a socket's program cut into stages run by different
// sockets, with micro-batches in flight between them.
//
// Cutting (splitPipelineStages): the cut points start where the running cost
// of the kernels (weight and KV bytes at HBM bandwidth plus FLOPs at peak)
// reaches k/P of the total, and move, within a layer's length of that point,
// to where the fewest activation bytes cross the cut: between decoder layers,
// or between a layer's attention and its MLP, only the residual stream (and
// the small rotary tables and mask) cross.
// Timing (pipelineTiming), after GPipe (Huang et al., "GPipe: Efficient
// Training of Giant Neural Networks using Pipeline Parallelism", 2019):
// M micro-batches over P stages of time t_s take
//   prefill (one pass):  sum(t) + (M - 1) max(t)      bubble (P - 1) / (M + P - 1)
//   decode (each token needs the previous one, so a micro-batch re-enters the
//   first stage only after leaving the last):
//                        max(sum(t), M max(t))        bubble 1 - M / max(M, P)
// per step of every micro-batch (the bubbles are for balanced stages).
// Known weakness: the cut follows program order and a cost estimate, not the
// cost model's final section times; a prompt is not split into chunks, so a
// single long prompt (batch 1) gets no pipelining.

import type { DataflowModule, DfKernel, DfTensor, Phase } from "../../ir/dataflow/dataflow.js";
import { KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import type { Target } from "../../targets/target.js";
import { peakFlops } from "../../targets/target.js";
import { deriveStreams } from "../lower/to-dataflow.js";

const RESIDENT = new Set(["weight", "constant", "kv-cache"]);

function kernelCost(k: DfKernel, tensors: ReadonlyMap<string, DfTensor>, target: Target): number {
  let bytes = 0;
  for (const [t, read] of Object.entries(k.reads)) if (RESIDENT.has(tensors.get(t)?.role ?? "")) bytes += read;
  return bytes / target.hbm.bandwidth + k.flops / peakFlops(target, k.dtype);
}

/** Kernel indices where each stage after the first begins. */
export function splitPipelineStages(m: DataflowModule, stages: number, target: Target): number[] {
  const n = m.kernels.length;
  if (stages <= 1 || n === 0) return [];
  const tensors = new Map(m.tensors.map((t) => [t.name, t]));
  const cumulative: number[] = [0];
  for (const k of m.kernels) cumulative.push(cumulative.at(-1)! + kernelCost(k, tensors, target));
  // Activation bytes crossing a cut before kernel p: produced before p, read at or after p.
  const crossing = new Array<number>(n + 1).fill(0);
  const producedAt = new Map<string, number>();
  m.kernels.forEach((k, i) => k.outputs.forEach((o) => producedAt.set(o, i)));
  const lastUse = new Map<string, number>();
  m.kernels.forEach((k, i) => k.inputs.forEach((t) => lastUse.set(t, i)));
  for (const [t, first] of producedAt) {
    const last = lastUse.get(t);
    const role = tensors.get(t)?.role ?? "activation";
    if (last === undefined || last <= first || RESIDENT.has(role)) continue;
    crossing[first + 1]! += tensors.get(t)?.bytes ?? 0;
    crossing[last + 1]! -= tensors.get(t)?.bytes ?? 0;
  }
  for (let p = 1; p <= n; p++) crossing[p]! += crossing[p - 1]!;
  const layerStarts = m.kernels.flatMap((k, i) => (k.kind === "attention" ? [i] : []));
  const span = layerStarts.length > 1 ? Math.ceil(n / layerStarts.length) : Math.ceil(n / (4 * stages));
  const cuts: number[] = [];
  const total = cumulative[n]!;
  for (let s = 1; s < stages; s++) {
    let balanced = cumulative.findIndex((c) => c >= (total * s) / stages);
    balanced = Math.min(n - 1, Math.max((cuts.at(-1) ?? 0) + 1, balanced));
    let best = balanced;
    const lo = Math.max((cuts.at(-1) ?? 0) + 1, balanced - span), hi = Math.min(n - (stages - s), balanced + span);
    for (let p = lo; p <= hi; p++) {
      if (!(KERNEL_KINDS[m.kernels[p]!.kind]?.device ?? true)) continue;
      const better = crossing[p]! < crossing[best]! || (crossing[p] === crossing[best] && Math.abs(p - balanced) < Math.abs(best - balanced));
      if (better) best = p;
    }
    cuts.push(best);
  }
  return cuts;
}

export interface StageModule {
  readonly module: DataflowModule;
  /** Tensors this stage receives from earlier stages, with the stage that produced each. */
  readonly received: readonly { readonly tensor: string; readonly from: number }[];
}

/** The stages' own modules: what crosses a cut becomes an output of one stage and an input of the next. */
export function stageModules(m: DataflowModule, cuts: readonly number[]): StageModule[] {
  const bounds = [0, ...cuts, m.kernels.length];
  const stageOf = new Map<string, number>();
  m.kernels.forEach((k, i) => k.outputs.forEach((o) => stageOf.set(o, bounds.findIndex((b, s) => i >= b && i < bounds[s + 1]!))));
  const tensors = new Map(m.tensors.map((t) => [t.name, t]));
  const readBy = new Map<string, Set<number>>();
  return bounds.slice(0, -1).map((start, s) => {
    const kernels = m.kernels.slice(start, bounds[s + 1]);
    for (const k of kernels) for (const i of k.inputs) (readBy.get(i) ?? readBy.set(i, new Set()).get(i)!).add(s);
    return { s, kernels };
  }).map(({ s, kernels }) => {
    const used = new Set(kernels.flatMap((k) => [...k.inputs, ...k.outputs]));
    const received = [...used].filter((t) => stageOf.has(t) && stageOf.get(t)! < s).sort();
    const sent = [...used].filter((t) => stageOf.get(t) === s && ([...(readBy.get(t) ?? [])].some((r) => r > s) || m.outputs.includes(t)));
    const local = [...used].map((name) => {
      const t = tensors.get(name)!;
      if (received.includes(name)) return { ...t, role: "input" as const };
      if (sent.includes(name) && t.role === "activation") return { ...t, role: "output" as const };
      return t;
    });
    const inputs = [...m.inputs.filter((i) => used.has(i)), ...received];
    const outputs = [...m.outputs.filter((o) => used.has(o) && stageOf.get(o) === s), ...sent.filter((t) => !m.outputs.includes(t))];
    const module: DataflowModule = {
      ...m, inputs, outputs, tensors: local, kernels,
      streams: deriveStreams(kernels, new Map(local.map((t) => [t.name, t]))),
    };
    return { module, received: received.map((tensor) => ({ tensor, from: stageOf.get(tensor)! })) };
  });
}

export interface PipelineTiming {
  /** Every micro-batch of the step through every stage. */
  readonly stepSeconds: number;
  /** One micro-batch through every stage. */
  readonly latencySeconds: number;
  readonly bubbleFraction: number;
}

export function pipelineTiming(stageSeconds: readonly number[], microBatches: number, phase: Phase): PipelineTiming {
  const sum = stageSeconds.reduce((a, b) => a + b, 0);
  const slowest = Math.max(0, ...stageSeconds);
  const p = stageSeconds.length, m = microBatches;
  const step = phase === "decode" ? Math.max(sum, m * slowest) : sum + (m - 1) * slowest;
  const busy = m * sum;
  return { stepSeconds: step, latencySeconds: sum, bubbleFraction: step > 0 && p > 0 ? Math.max(0, 1 - busy / (p * step)) : 0 };
}
