// Broken plans for the property that `tierflow verify` refuses whatever the
// runtime refuses, in the same words (refusals.test.ts, run-long.ts): good
// plans of corpus exports broken one random way, each put through verify (the
// placement verifier, then the legality check) and through the runtime's own
// checks alone (runPlacedPlan, which executePlan calls only after legality).

import { join } from "node:path";
import { expect } from "vitest";
import { compile } from "../../compiler/compile.js";
import { loadModel } from "../../compiler/load.js";
import { TierflowError } from "../../ir/diagnostics.js";
import type { Module } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { checkPlanLegality } from "../../ir/placement/legality.js";
import type { Plan } from "../../ir/placement/plan.js";
import { verifyPlan } from "../../ir/placement/verify.js";
import type { Tensor } from "../../ir/tensor.js";
import type { Target } from "../../targets/target.js";
import { run } from "../../targets/reference/index.js";
import { runPlacedPlan } from "../../targets/runtime/execute.js";
import { CORPUS_DIR, corpusInputs } from "../corpus/support.js";
import type { Writable } from "../runtime/support.js";
import { maxAbsError } from "../runtime/support.js";

const SOURCES = ["llama.dynamo.onnx", "bert.torchscript.onnx", "mobilenet.dynamo.onnx", "deepseek_v3.torchscript.onnx"];

export interface Base {
  readonly plan: Plan;
  readonly graph: Module;
  readonly target: Target;
  readonly inputs: Record<string, Tensor>;
  readonly want: Record<string, Tensor>;
}

export const MUTATIONS = [
  "alloc-range", "alloc-tier", "alloc-offset", "alloc-drop", "transfer-drop", "transfer-retime", "buffer-shrink",
  "tiles", "tile-rows", "streaming", "kernel-move", "kernel-input", "kernel-node", "tensor-bytes", "send-drop", "send-retime",
  "shard-axis",
] as const;
export type Mutation = (typeof MUTATIONS)[number];

const STREAMS = ["columns", "rows", "matmul", "gather", "map", "attention", "whole"] as const;

/** One broken copy of `plan`; `pick` chooses what and how. */
export function mutate(plan: Plan, kind: Mutation, pick: number): Plan {
  const p = structuredClone(plan) as Writable<Plan>;
  const at = <T>(list: T[]) => list[pick % Math.max(1, list.length)];
  const kernels = p.dataflow.kernels.filter((k) => k.streaming !== "none");
  switch (kind) {
    case "alloc-range": { const a = at(p.allocations); if (a) a.lastSection = Math.max(a.firstSection, a.lastSection - 1 - (pick % 3)); break; }
    case "alloc-tier": { const a = at(p.allocations); if (a) a.tier = a.tier === "hbm" ? "ddr" : "hbm"; break; }
    case "alloc-offset": { const a = at(p.allocations); if (a) a.offset += 64 * (1 + (pick % 5)); break; }
    case "alloc-drop": p.allocations.splice(pick % Math.max(1, p.allocations.length), 1); break;
    case "transfer-drop": p.transfers.splice(pick % Math.max(1, p.transfers.length), 1); break;
    case "transfer-retime": { const t = at(p.transfers); if (t) t.beforeSection = Math.min(p.sections.length - 1, t.beforeSection + 1 + (pick % 3)); break; }
    case "buffer-shrink": {
      const k = at(kernels);
      const a = k && p.allocations.find((x) => x.tensor === `${k.name}/buffers`);
      if (k && a) { a.bytes = Math.floor(a.bytes / (2 + (pick % 3))); k.bufferBytes = a.bytes; }
      break;
    }
    case "tiles": { const k = at(kernels); if (k) k.tiling.tiles = Math.max(0, k.tiling.tiles + (pick % 2 ? 1 : -1)); break; }
    case "tile-rows": { const k = at(kernels); if (k && k.tiling.tileShape.length > 0) k.tiling.tileShape[0] = k.tiling.tileShape[0]! * 2; break; }
    case "streaming": { const k = at(kernels); if (k) k.streaming = STREAMS[(STREAMS.indexOf(k.streaming as never) + 1 + (pick % 6)) % STREAMS.length]!; break; }
    case "kernel-move": {
      const s = pick % p.sections.length, t = (s + 1 + (pick % 3)) % p.sections.length;
      const moved = p.sections[s]!.kernels.shift();
      if (moved) p.sections[t]!.kernels.unshift(moved);
      break;
    }
    case "kernel-input": { const k = at(kernels); if (k && k.inputs.length > 1) k.inputs.splice(pick % k.inputs.length, 1); break; }
    case "kernel-node": { const k = at(kernels); if (k) k.nodes[0] = `${k.nodes[0]}/renamed`; break; }
    case "tensor-bytes": { const t = at(p.dataflow.tensors); if (t) t.bytes += 64; break; }
    case "send-drop": if (p.parallel) p.parallel.sends.splice(pick % Math.max(1, p.parallel.sends.length), 1); break;
    case "send-retime": { const t = p.parallel && at(p.parallel.sends); if (t) t.beforeSection = Math.max(0, t.beforeSection - 1); break; }
    case "shard-axis": { const sh = p.parallel && at(p.parallel.shards); if (sh) sh.axis = (sh.axis + 1) % 2; break; }
  }
  return p;
}

type Outcome = { refused: string } | { outputs: Record<string, Tensor> };

function outcome(f: () => Record<string, Tensor> | void): Outcome {
  try {
    return { outputs: f() ?? {} };
  } catch (err) {
    if (err instanceof TierflowError) return { refused: err.message };
    throw err;
  }
}


/** Good plans to break: four corpus exports at three (target, level) pairs each, and two node-level plans. */
export async function buildBases(): Promise<Base[]> {
  const bases: Base[] = [];
  for (const file of SOURCES) {
    const path = join(CORPUS_DIR, file);
    const { module } = await loadModel(path);
    const inputs = corpusInputs(mainGraph(module), 128, 2, 7, 11);
    const want = run(module, inputs, { modelDir: CORPUS_DIR }).outputs;
    for (const [target, opt] of [["toy", 0], ["toy", 2], ["sn40l", 1]] as const) {
      const { plan, graph, target: t } = await compile(path, { target, opt, batch: 2, seq: 7 });
      bases.push({ plan, graph, target: t, inputs, want });
    }
    // Node-level plans of the decoder: a tensor-parallel group and a two-stage pipeline.
    if (file.startsWith("llama")) {
      for (const parallel of ["tp=2,dp=1", "pp=2,dp=1"]) {
        const { plan, graph, target: t } = await compile(path, { target: "sn40l-node", opt: 2, batch: 2, seq: 7, parallel });
        bases.push({ plan, graph, target: t, inputs, want });
      }
    }
  }
  return bases;
}

export interface RefusalCounts { refusedBoth: number; ranBoth: number; verifyOnly: number }

/** Break one plan; throws when the runtime refuses what verify accepted, in other words, or runs it to other values. */
export function checkMutant(base: Base, kind: Mutation, pick: number, counts: RefusalCounts): void {
  const broken = mutate(base.plan, kind, pick);
  const verified = outcome(() => {
    verifyPlan(broken, base.target);
    checkPlanLegality(broken, base.target, base.graph);
  });
  const ran = outcome(() => {
    verifyPlan(broken, base.target);
    return runPlacedPlan(broken, base.inputs, { graph: base.graph, target: base.target, modelDir: CORPUS_DIR }).outputs;
  });
  const where = `${base.plan.dataflow.name} ${base.plan.target} -O${base.plan.options.opt}, ${kind} ${pick}`;
  if ("refused" in ran) {
    expect("refused" in verified, `${where}: the runtime refused what verify accepted: ${ran.refused}`).toBe(true);
    expect((verified as { refused: string }).refused, where).toBe(ran.refused);
    counts.refusedBoth++;
  } else if ("refused" in verified) {
    counts.verifyOnly++;
  } else {
    expect(maxAbsError(base.want, ran.outputs), `${where}: verify accepted it, and it ran to other values`).toBeLessThanOrEqual(1e-4);
    counts.ranBoth++;
  }
}

export const formatCounts = (c: RefusalCounts): string =>
  `broken plans: ${c.refusedBoth} refused by both in the same words, ${c.ranBoth} ran (the change was harmless), ${c.verifyOnly} refused by verify only`;
