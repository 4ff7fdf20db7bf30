// The two serving systems the simulation compares, built from compiled plans:
// disaggregated (prefill on P sockets, decode on D, each group with the best
// layout `--parallel auto` finds for its phase, the KV cache handed over the
// links) and colocated (the same P + D sockets as replicas of the decode
// group's replica layout, each doing both phases).

import type { Module } from "../../ir/graph/graph.js";
import type { DType } from "../../ir/dtype.js";
import type { Target } from "../../targets/target.js";
import type { OptLevel } from "../schedule/sections.js";
import { lowerForTarget } from "../plan-socket.js";
import { collectiveSeconds } from "./collectives.js";
import { compileNodePlan, parseDisaggregate } from "./compile-node.js";
import { kvBytesPerToken } from "./kv-cache.js";
import { formatLayout, groupSize } from "./layout.js";
import type { ParallelLayout } from "./layout.js";
import type { ReplicaTiming, ServingSystem } from "./serving-sim.js";
import { linear } from "./serving-sim.js";

export interface ServingPlanRequest {
  readonly disaggregate: string;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** Largest decode batch a replica runs (the second compiled point of its step time). */
  readonly maxBatch: number;
  readonly dtype: DType | undefined;
  readonly opt: OptLevel;
}

export interface ServingSystems {
  readonly colocated: ServingSystem;
  readonly disaggregated: ServingSystem;
  /** What was planned, for the report. */
  readonly summary: readonly string[];
}

function withSockets(target: Target, sockets: number): Target {
  return { ...target, node: { ...target.node!, sockets } };
}

function layoutText(l: ParallelLayout): string {
  return `tp=${l.tp},pp=${l.pp},ep=${l.ep},dp=1`;
}

export function servingSystems(graph: Module, target: Target, r: ServingPlanRequest, onStage: (s: string) => void = () => {}): ServingSystems {
  const node = target.node;
  if (!node) throw new Error("internal: servingSystems needs a node target");
  const groups = parseDisaggregate(r.disaggregate, node.sockets);
  const context = r.promptTokens + Math.round(r.outputTokens / 2);
  const plan = (sockets: number, phase: "prefill" | "decode", batch: number, seq: number, parallel: string) =>
    compileNodePlan(graph, withSockets(target, sockets), { phase, batch, seq, dtype: r.dtype, opt: r.opt }, { parallel, disaggregate: undefined, onStage }).planParts.parallel;

  onStage(`decode group: ${groups.decode} sockets`);
  const decodeBest = plan(groups.decode, "decode", 1, context, "auto");
  const dl = decodeBest.layout;
  const replicaSockets = groupSize(dl) * dl.pp;
  const decodeAtMax = plan(replicaSockets, "decode", r.maxBatch, context, layoutText(dl));
  const decodeTiming: Omit<ReplicaTiming, "prefillSeconds"> = {
    decodeSeconds: linear(1, decodeBest.prediction.stepSeconds, r.maxBatch, decodeAtMax.prediction.stepSeconds),
    maxBatch: r.maxBatch,
  };
  onStage(`prefill group: ${groups.prefill} sockets`);
  const prefillBest = plan(groups.prefill, "prefill", 1, r.promptTokens, "auto");
  const pl = prefillBest.layout;
  const perToken = (seconds: number) => (tokens: number) => (seconds * tokens) / r.promptTokens;
  onStage("colocated replicas");
  const colocatedPrefill = plan(replicaSockets, "prefill", 1, r.promptTokens, layoutText(dl));
  const colocatedReplicas = Math.floor((groups.prefill + groups.decode) / replicaSockets);
  const kvBytes = kvBytesPerToken(lowerForTarget(graph, target, { phase: "prefill", batch: 1, seq: r.promptTokens, dtype: r.dtype, opt: r.opt })) * r.promptTokens;
  const links = Math.min(groupSize(pl), groupSize(dl));
  const kvTransferSeconds = collectiveSeconds("send", kvBytes / links, 2, node.link);
  const disaggregated: ServingSystem = {
    kind: "disaggregated", prefillReplicas: pl.dp, decodeReplicas: dl.dp, kvTransferSeconds,
    prefill: { ...decodeTiming, prefillSeconds: perToken(prefillBest.prediction.latencySeconds) },
    decode: { ...decodeTiming, prefillSeconds: () => 0 },
  };
  const colocated: ServingSystem = {
    kind: "colocated", replicas: colocatedReplicas,
    timing: { ...decodeTiming, prefillSeconds: perToken(colocatedPrefill.prediction.latencySeconds) },
  };
  const ms = (s: number) => `${(s * 1e3).toFixed(3)} ms`;
  const summary = [
    `disaggregated: prefill on ${groups.prefill} sockets as ${formatLayout(pl)}, ${ms(prefillBest.prediction.latencySeconds)} a ${r.promptTokens}-token prompt; ` +
      `decode on ${groups.decode} sockets as ${formatLayout(dl)}, step ${ms(decodeBest.prediction.stepSeconds)} at batch 1, ${ms(decodeAtMax.prediction.stepSeconds)} at batch ${r.maxBatch} (context ${context}); ` +
      `KV cache of a prompt ${(kvBytes / 2 ** 20).toFixed(1)} MiB, handed over in ${ms(kvTransferSeconds)}`,
    `colocated: ${colocatedReplicas} replica${colocatedReplicas > 1 ? "s" : ""} of ${replicaSockets} sockets (${layoutText(dl).replace(",dp=1", "")}) on the same ${groups.prefill + groups.decode} sockets, ` +
      `prefill ${ms(colocatedPrefill.prediction.latencySeconds)} a prompt, decode steps as above; a waiting prompt runs before the next decode step`,
  ];
  return { colocated, disaggregated, summary };
}
