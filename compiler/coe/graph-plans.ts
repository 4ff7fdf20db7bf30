// The plans of one distinct expert graph: one import and fusion feed a prefill
// plan (batch 1) and decode plans at batch 1, 2, 4, ... up to the CoE's batch,
// so the serving simulation charges a decode step for the batch it runs.
//
// On a node-level target (sn40l-node, dgx-h100, dgx-a100) the plans are the
// node compiler's parallel plans (compiler/node): one replica of the expert
// over the whole node, its layout chosen by `expertLayout`, with collectives,
// pipeline bubbles and the per-socket program costed. On a single-socket
// target standing for N sockets they are one socket's plans and the node is
// N ideal copies (time / N, no collective cost).

import type { DataflowModule } from "../../ir/dataflow/dataflow.js";
import { roleBytes } from "../../ir/dataflow/dataflow.js";
import type { Plan } from "../../ir/placement/plan.js";
import type { Target } from "../../targets/target.js";
import type { CompileOptions, CompileResult, FusedModel, ModelSource } from "../compile.js";
import { compileModule } from "../compile.js";
import { lowerForTarget } from "../plan-socket.js";
import type { ParallelLayout, ParallelRequest } from "../node/layout.js";
import { enumerateLayouts, formatLayout, groupSize, modelFacts } from "../node/layout.js";
import type { OptLevel } from "../schedule/sections.js";
import type { DType } from "../../ir/dtype.js";
import { fail } from "../../ir/diagnostics.js";
import type { DecodeStep } from "./decode-steps.js";
import { decodeBatches } from "./decode-steps.js";

export interface GraphPlans {
  readonly prefill: CompileResult;
  /** The decode plan at the CoE's batch (the one written out). */
  readonly decode: CompileResult;
  /** Node seconds of one prefill (batch 1, `seq` tokens). */
  readonly prefillSeconds: number;
  /** Node seconds of one decode step at each compiled batch, ascending. */
  readonly decodeSteps: readonly DecodeStep[];
  /** One copy of the expert's weights (what a switch moves). */
  readonly weightBytes: number;
  /** KV cache of the CoE's batch at the decode context, over the node. */
  readonly kvBytes: number;
  /** The parallel layout on a node target (e.g. tp=8,pp=1,dp=1). */
  readonly layout?: string;
}

export interface GraphPlanRequest {
  /** A node-level target, or the one-socket target of an N-socket node. */
  readonly target: Target;
  /** Sockets the single-socket plans' time is divided by (ignored on a node target). */
  readonly sockets: number;
  readonly opt: OptLevel;
  readonly dtype?: DType;
  readonly batch: number;
  readonly seq: number;
  readonly context: number;
}

/**
 * The layout one expert takes on a node: a single replica over as many
 * sockets as the model allows (all of them for Llama-2-7B on 8 sockets), the
 * widest tensor-parallel group first (pipeline stages add a bubble at batch
 * 1). Checked at batch 1, so it holds for every decode batch too.
 */
export function expertLayout(lowered: DataflowModule, target: Target): ParallelLayout {
  const layouts = enumerateLayouts(target, modelFacts(lowered), 1);
  const span = (l: ParallelLayout) => groupSize(l) * l.pp;
  const best = [...layouts].sort((a, b) => span(b) - span(a) || b.tp - a.tp || a.pp - b.pp)[0];
  if (best === undefined) fail(`no parallel layout of ${target.name} runs this expert (its heads and layers admit none)`);
  return best;
}

function asRequest(l: ParallelLayout): ParallelRequest {
  return { kind: "layout", tp: l.tp, pp: l.pp, ep: l.ep, dp: l.dp };
}

export function compileGraphPlans(fused: FusedModel, model: ModelSource, r: GraphPlanRequest, onStage: (stage: string) => void = () => {}): GraphPlans {
  const common: CompileOptions = { target: r.target, opt: r.opt, ...(r.dtype ? { dtype: r.dtype } : {}) };
  const onNode = r.target.node !== undefined;
  let layout: ParallelLayout | undefined;
  let weightBytes: number;
  if (onNode) {
    // The unsharded program: the layout's constraints and one copy of the weights.
    const whole = lowerForTarget(fused.graph, r.target, { phase: "prefill", batch: 1, seq: r.seq, dtype: r.dtype, opt: r.opt });
    layout = expertLayout(whole, r.target);
    weightBytes = roleBytes(whole, ["weight", "constant"]);
  }
  const plan = (phase: "prefill" | "decode", batch: number, seq: number): CompileResult => {
    onStage(`${phase} batch ${batch}${layout ? ` ${formatLayout(layout)}` : ""}`);
    return compileModule(fused, model, { ...common, phase, batch, seq, ...(layout ? { parallel: asRequest(layout) } : {}) });
  };
  const prefill = plan("prefill", 1, r.seq);
  weightBytes ??= roleBytes(prefill.plan.dataflow, ["weight", "constant"]);
  const seconds = (p: Plan, phase: "prefill" | "decode") =>
    p.parallel ? (phase === "prefill" ? p.parallel.prediction.latencySeconds : p.parallel.prediction.stepSeconds) : p.prediction.seconds / r.sockets;
  const decodeSteps: DecodeStep[] = [];
  let decode: CompileResult | undefined;
  for (const batch of decodeBatches(r.batch)) {
    const d = plan("decode", batch, r.context);
    decodeSteps.push({ batch, seconds: seconds(d.plan, "decode") });
    if (batch === r.batch) decode = d; // the others are kept only as their step time
  }
  // A parallel plan's dataflow is one socket's program for one micro-batch: every member of
  // a tensor-parallel group holds its share of the cache, for every micro-batch.
  const used = decode!.plan.parallel?.layout;
  const kvBytes = roleBytes(decode!.plan.dataflow, ["kv-cache"]) * (used ? groupSize(used) * used.microBatches : 1);
  return {
    prefill, decode: decode!, prefillSeconds: seconds(prefill.plan, "prefill"), decodeSteps, weightBytes, kvBytes,
    ...(layout ? { layout: formatLayout(layout) } : {}),
  };
}
