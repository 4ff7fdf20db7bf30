// Compiling a Composition of Experts: the router and each distinct expert
// graph are compiled once (one import and fusion; a prefill plan and decode
// plans at a few batches, graph-plans.ts); experts that share a graph share
// its plans and are bound to their own weights file. Compile work and memory
// are therefore flat in the number of experts: an expert costs one record
// (name, weights file, bytes), never a compile.

import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fail } from "../../ir/diagnostics.js";
import type { DType } from "../../ir/dtype.js";
import type { Plan } from "../../ir/placement/plan.js";
import { weightBytes } from "../../ir/dataflow/dataflow.js";
import type { Target } from "../../targets/target.js";
import { loadTarget } from "../../targets/target.js";
import { compileModule, loadFused, modelSource } from "../compile.js";
import type { OnStage } from "../stage.js";
import type { CompileResult } from "../compile.js";
import type { DecodeStep } from "./decode-steps.js";
import { decodeStepSeconds } from "./decode-steps.js";
import { compileGraphPlans } from "./graph-plans.js";
import type { OptLevel } from "../schedule/sections.js";
import type { Manifest } from "./manifest.js";
import type { NodeModel, Residency } from "./residency.js";
import { nodeOf, nodeSpec, planResidency, socketTarget } from "./residency.js";

export const COE_PLAN_VERSION = 2;

/** Options of {@link compileCoe}: the target and the shapes the expert plans are compiled for. */
export interface CoeCompileOptions {
  /** A target preset name, a target file's path or a loaded target (default: the manifest's "target"). */
  readonly target?: string | Target;
  /** Optimisation level, as in {@link CompileOptions} (default 2). */
  readonly opt?: OptLevel;
  /** Plan floating-point data in this dtype (default: the models' own). */
  readonly dtype?: DType;
  /** Requests batched on one expert (the decode plan's batch). */
  readonly batch?: number;
  /** Prompt length of the prefill plans. */
  readonly seq?: number;
  /** Context length of the decode plans. */
  readonly context?: number;
  /** Sockets in the node for a single-socket target (default 8); a node-level target gives its own. */
  readonly sockets?: number;
  /** Node DDR -> HBM (or host -> HBM) bandwidth, overriding the one derived from the target. */
  readonly switchBandwidth?: number;
  /** Pin the most requested experts that fit in HBM beside the router and KV cache (default true). */
  readonly pinHot?: boolean;
  /** Progress: a stage name as each starts (the router, each graph counted in "graphs", its plans, residency). */
  readonly onStage?: OnStage;
}

export interface CoeGraphPlan {
  /** Short id, also the folder of its plans in the output (graphs/<id>/). */
  readonly id: string;
  readonly file: string;
  readonly weightBytes: number;
  readonly kvBytes: number;
  /** Node seconds of one prompt of `seq` tokens. */
  readonly prefillSeconds: number;
  /** Node seconds of one decode step at the CoE's batch. */
  readonly decodeSeconds: number;
  /** Node seconds of one decode step at each compiled batch (1, 2, 4, ..., batch). */
  readonly decodeSteps: readonly DecodeStep[];
  /** The node compiler's parallel layout of the expert's plans, on a node-level target. */
  readonly layout?: string;
}

export interface CoeExpertPlan {
  readonly name: string;
  readonly graph: string;
  /** Weights file relative to the manifest folder (the graph's own external data when the expert binds none). */
  readonly weights?: string;
  readonly weightsFileBytes?: number;
  readonly bytes: number;
  readonly share: number;
  readonly home: "hbm" | "ddr" | "storage";
  readonly switchSeconds: number;
}

/**
 * A compiled Composition of Experts (coe-plan.json, compiler/coe/coe-plan.schema.json): the
 * node it runs on, the router's plan, one set of plans per distinct expert graph, each
 * expert's weights and home tier (HBM, DDR or storage) with its switch time, and the
 * residency summary. {@link writeCoe} writes it, {@link readCoePlan} reads it back.
 */
export interface CoePlan {
  /** The CoE plan format's version; {@link readCoePlan} refuses others. */
  readonly version: number;
  readonly format: "tierflow-coe-plan";
  /** The manifest file, absolute: `tierflow run OUT/` reads the models and weights beside it. */
  readonly manifest: string;
  /** The target's name. */
  readonly target: string;
  /** What the plans were compiled for: optimisation level, dtype, batch, prompt and context lengths. */
  readonly options: { readonly opt: number; readonly dtype: string; readonly batch: number; readonly seq: number; readonly context: number };
  /** The node: sockets, HBM and DDR (or host memory) bytes, the path and bandwidth experts switch in over. */
  readonly node: NodeModel;
  /** The router's model file, its plan (relative to OUT/), routes, weight bytes and seconds per request. */
  readonly router: { readonly file: string; readonly plan: string; readonly routes: Readonly<Record<string, string>>; readonly bytes: number; readonly seconds: number };
  /** One entry per distinct expert graph, with its prefill and decode times. */
  readonly graphs: readonly CoeGraphPlan[];
  /** One entry per expert, in the manifest's order. */
  readonly experts: readonly CoeExpertPlan[];
  /** Where HBM goes: router, KV cache, active region, pinned experts. */
  readonly residency: Omit<Residency, "experts">;
}

/** What {@link compileCoe} returns: the CoE plan, the target, and every plan it compiled. */
export interface CoeCompileResult {
  readonly plan: CoePlan;
  /** The node target, loaded. */
  readonly target: Target;
  /** Compiled plans by output path relative to OUT/ (router/plan.json, graphs/<id>/prefill.plan.json, ...). */
  readonly plans: ReadonlyMap<string, Plan>;
  /** The compile results behind `plans`, by the same keys. */
  readonly results: ReadonlyMap<string, CompileResult>;
}

/** Graph file -> how many experts use it, in manifest order (one pass over the experts). */
function graphUse(manifest: Manifest): Map<string, number> {
  const use = new Map<string, number>();
  for (const e of manifest.experts) use.set(e.graph, (use.get(e.graph) ?? 0) + 1);
  return use;
}

/**
 * Compile a Composition of Experts: the router and each distinct expert graph once (experts
 * sharing a graph share its plans), then place the experts in the node's memory tiers. No
 * target (neither in the options nor the manifest), `sockets` given for a node target, or a
 * model that does not compile throws a TierflowError.
 *
 * @example
 * ```ts
 * import { compileCoe, readManifest, writeCoe } from "tierflow";
 *
 * const manifest = readManifest("examples/coe/coe.json");
 * const compiled = await compileCoe(manifest, { target: "sn40l-node", batch: 4 });
 * for (const e of compiled.plan.experts) console.log(e.name, e.home, e.switchSeconds);
 * writeCoe("out/coe", compiled); // coe-plan.json and every plan under out/coe
 * ```
 */
export async function compileCoe(manifest: Manifest, options: CoeCompileOptions = {}): Promise<CoeCompileResult> {
  const stage = options.onStage ?? (() => {});
  const targetSpec = options.target ?? manifest.target;
  if (targetSpec === undefined) fail("no target: give --target (e.g. sn40l-node; `tierflow targets` lists them) or a \"target\" in the manifest", { file: manifest.file });
  const nodeTarget = typeof targetSpec === "string" ? loadTarget(targetSpec) : targetSpec;
  const onNode = nodeSpec(nodeTarget) !== undefined;
  if (onNode && options.sockets !== undefined && options.sockets !== nodeSpec(nodeTarget)!.sockets) {
    fail(`--sockets ${options.sockets}: ${nodeTarget.name} is a node of ${nodeSpec(nodeTarget)!.sockets} sockets (--sockets is for a single-socket target such as sn40l)`, { file: manifest.file });
  }
  const opt = options.opt ?? 2;
  const batch = options.batch ?? 1;
  const seq = options.seq ?? 128;
  const context = options.context ?? 512;
  const node = nodeOf(nodeTarget, options.sockets, options.switchBandwidth);
  const sockets = node.sockets;
  const dtype = options.dtype ? { dtype: options.dtype } : {};
  const plans = new Map<string, Plan>();
  const results = new Map<string, CompileResult>();
  const load = (file: string) => loadFused(join(manifest.dir, file), { opt, ...dtype });

  // The router is small: on a node target it runs on one socket; on N single sockets, ideally split.
  stage(`router ${manifest.router.model}`);
  const routerFile = join(manifest.dir, manifest.router.model);
  const router = compileModule(await load(manifest.router.model), modelSource(routerFile), { target: socketTarget(nodeTarget), opt, ...dtype, phase: "prefill", batch, seq });
  plans.set("router/plan.json", router.plan);
  results.set("router/plan.json", router);

  const graphs: CoeGraphPlan[] = [];
  const graphIds = new Map<string, string>();
  const request = { target: onNode ? nodeTarget : socketTarget(nodeTarget), sockets, opt, ...dtype, batch, seq, context };
  const uses = graphUse(manifest);
  const step = (done: number) => ({ done, total: uses.size, unit: "graphs" });
  for (const [file, experts] of uses) {
    const id = `g${graphs.length}`;
    graphIds.set(file, id);
    stage(`graph ${file} (${experts} experts)`, step(graphs.length));
    const path = join(manifest.dir, file);
    const g = compileGraphPlans(await load(file), modelSource(path), request, (s) => stage(`  ${s}`));
    for (const [name, r] of [[`graphs/${id}/prefill.plan.json`, g.prefill], [`graphs/${id}/decode.plan.json`, g.decode]] as const) {
      plans.set(name, r.plan);
      results.set(name, r);
    }
    graphs.push({
      id, file, weightBytes: g.weightBytes, kvBytes: g.kvBytes, prefillSeconds: g.prefillSeconds,
      decodeSeconds: decodeStepSeconds(g.decodeSteps, batch), decodeSteps: g.decodeSteps, ...(g.layout ? { layout: g.layout } : {}),
    });
  }

  stage("residency", step(graphs.length));
  const evenShare = 1 / manifest.experts.length;
  const byFile = new Map(graphs.map((g) => [g.file, g]));
  const routerBytes = weightBytes(router.plan.dataflow);
  const kvBytes = Math.max(...graphs.map((g) => g.kvBytes));
  const residency = planResidency(node, manifest.experts.map((e) => ({ name: e.name, bytes: byFile.get(e.graph)!.weightBytes, share: e.share ?? evenShare })),
    routerBytes, kvBytes, options.pinHot ?? true);
  const experts = manifest.experts.map((e, i): CoeExpertPlan => {
    const r = residency.experts[i]!;
    const fileBytes = e.weights !== undefined ? fileSize(join(manifest.dir, e.weights)) : undefined;
    return {
      name: e.name, graph: graphIds.get(e.graph)!, ...(e.weights !== undefined ? { weights: e.weights } : {}),
      ...(fileBytes !== undefined ? { weightsFileBytes: fileBytes } : {}),
      bytes: r.bytes, share: e.share ?? evenShare, home: r.home, switchSeconds: r.switchSeconds,
    };
  });
  const { experts: _, ...summary } = residency;
  const plan: CoePlan = {
    version: COE_PLAN_VERSION, format: "tierflow-coe-plan", manifest: resolve(manifest.file), target: nodeTarget.name,
    options: { opt, dtype: options.dtype ?? "f32", batch, seq, context }, node,
    router: {
      file: manifest.router.model, plan: "router/plan.json", routes: Object.fromEntries([...manifest.router.routes].map(([k, v]) => [String(k), v])),
      bytes: routerBytes, seconds: router.plan.prediction.seconds / (onNode ? 1 : sockets),
    },
    graphs, experts, residency: summary,
  };
  return { plan, target: nodeTarget, plans, results };
}

/** A weights file's size, or undefined when it is not there yet (compiling never reads weights). */
function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}
