// Compiling a Composition of Experts: the router and each distinct expert
// graph are compiled once (a prefill plan and a decode plan each); experts
// that share a graph share its plans and are bound to their own weights file.
// Compile work and memory are therefore flat in the number of experts: an
// expert costs one record (name, weights file, bytes), never a compile.

import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fail } from "../../ir/diagnostics.js";
import type { DType } from "../../ir/dtype.js";
import type { Plan } from "../../ir/placement/plan.js";
import type { Target } from "../../targets/target.js";
import { loadTarget } from "../../targets/target.js";
import { compile } from "../compile.js";
import type { CompileResult } from "../compile.js";
import type { OptLevel } from "../schedule/sections.js";
import type { Manifest } from "./manifest.js";
import type { NodeModel, Residency } from "./residency.js";
import { nodeOf, planResidency, socketTarget } from "./residency.js";

export const COE_PLAN_VERSION = 1;

export interface CoeCompileOptions {
  readonly target?: string | Target;
  readonly opt?: OptLevel;
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
  readonly pinHot?: boolean;
  readonly onStage?: (stage: string) => void;
}

export interface CoeGraphPlan {
  /** Short id, also the folder of its plans in the output (graphs/<id>/). */
  readonly id: string;
  readonly file: string;
  readonly weightBytes: number;
  readonly kvBytes: number;
  readonly prefillSeconds: number;
  readonly decodeSeconds: number;
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

export interface CoePlan {
  readonly version: number;
  readonly format: "tierflow-coe-plan";
  /** The manifest file, absolute: `tierflow run OUT/` reads the models and weights beside it. */
  readonly manifest: string;
  readonly target: string;
  readonly options: { readonly opt: number; readonly dtype: string; readonly batch: number; readonly seq: number; readonly context: number };
  readonly node: NodeModel;
  readonly router: { readonly file: string; readonly plan: string; readonly routes: Readonly<Record<string, string>>; readonly bytes: number; readonly seconds: number };
  readonly graphs: readonly CoeGraphPlan[];
  readonly experts: readonly CoeExpertPlan[];
  readonly residency: Omit<Residency, "experts">;
}

export interface CoeCompileResult {
  readonly plan: CoePlan;
  readonly target: Target;
  /** Compiled plans by output path relative to OUT/ (router/plan.json, graphs/<id>/prefill.plan.json, ...). */
  readonly plans: ReadonlyMap<string, Plan>;
  readonly results: ReadonlyMap<string, CompileResult>;
}

function roleBytes(plan: Plan, roles: readonly string[]): number {
  return plan.dataflow.tensors.filter((t) => roles.includes(t.role)).reduce((s, t) => s + t.bytes, 0);
}

export async function compileCoe(manifest: Manifest, options: CoeCompileOptions = {}): Promise<CoeCompileResult> {
  const stage = options.onStage ?? (() => {});
  const targetSpec = options.target ?? manifest.target;
  if (targetSpec === undefined) fail("no target: give --target or a \"target\" in the manifest", { file: manifest.file });
  const nodeTarget = typeof targetSpec === "string" ? loadTarget(targetSpec) : targetSpec;
  // Plans are compiled for one socket; the node model scales them (residency.ts).
  const target = socketTarget(nodeTarget);
  const opt = options.opt ?? 2;
  const batch = options.batch ?? 1;
  const seq = options.seq ?? 128;
  const context = options.context ?? 512;
  const node = nodeOf(nodeTarget, options.sockets, options.switchBandwidth);
  const sockets = node.sockets;
  const common = { target, opt, ...(options.dtype ? { dtype: options.dtype } : {}) };
  const plans = new Map<string, Plan>();
  const results = new Map<string, CompileResult>();

  stage(`router ${manifest.router.model}`);
  const router = await compile(join(manifest.dir, manifest.router.model), { ...common, phase: "prefill", batch, seq });
  plans.set("router/plan.json", router.plan);
  results.set("router/plan.json", router);

  const graphs: CoeGraphPlan[] = [];
  const graphIds = new Map<string, string>();
  for (const file of new Set(manifest.experts.map((e) => e.graph))) {
    const id = `g${graphs.length}`;
    graphIds.set(file, id);
    stage(`graph ${file} (${manifest.experts.filter((e) => e.graph === file).length} experts)`);
    const prefill = await compile(join(manifest.dir, file), { ...common, phase: "prefill", batch: 1, seq });
    const decode = await compile(join(manifest.dir, file), { ...common, phase: "decode", batch, seq: context });
    for (const [name, r] of [[`graphs/${id}/prefill.plan.json`, prefill], [`graphs/${id}/decode.plan.json`, decode]] as const) {
      plans.set(name, r.plan);
      results.set(name, r);
    }
    graphs.push({
      id, file, weightBytes: roleBytes(prefill.plan, ["weight", "constant"]), kvBytes: roleBytes(decode.plan, ["kv-cache"]),
      prefillSeconds: prefill.plan.prediction.seconds / sockets, decodeSeconds: decode.plan.prediction.seconds / sockets,
    });
  }

  stage("residency");
  const evenShare = 1 / manifest.experts.length;
  const byFile = new Map(graphs.map((g) => [g.file, g]));
  const routerBytes = roleBytes(router.plan, ["weight", "constant"]);
  const kvBytes = Math.max(...graphs.map((g) => g.kvBytes));
  const residency = planResidency(node, manifest.experts.map((e) => ({ name: e.name, bytes: byFile.get(e.graph)!.weightBytes, share: e.share ?? evenShare })),
    routerBytes, kvBytes, options.pinHot ?? true);
  const experts = manifest.experts.map((e, i): CoeExpertPlan => {
    const r = residency.experts[i]!;
    const weightsPath = e.weights !== undefined ? join(manifest.dir, e.weights) : undefined;
    const fileBytes = weightsPath !== undefined && existsSync(weightsPath) ? statSync(weightsPath).size : undefined;
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
      bytes: routerBytes, seconds: router.plan.prediction.seconds / sockets,
    },
    graphs, experts, residency: summary,
  };
  return { plan, target, plans, results };
}
