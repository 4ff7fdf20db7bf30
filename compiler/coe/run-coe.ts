// Executing requests through a compiled CoE on the reference runtime
// (targets/runtime): the router's plan picks the expert (argmax of its
// logits through the manifest's routes), then the expert's plan generates
// greedily with the expert's own weights bound to its (possibly shared) graph.
// Plans bind the sequence length, so, as in targets/runtime/generate.ts, each
// length gets its own prefill plan, compiled once and cached.

import { existsSync } from "node:fs";
import { posix } from "node:path";
import type { Constant, Module } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";
import type { DType } from "../../ir/dtype.js";
import type { Plan } from "../../ir/placement/plan.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor } from "../../ir/tensor.js";
import { executePlan } from "../../targets/runtime/execute.js";
import { argmaxLastRow } from "../generate.js";
import type { Target } from "../../targets/target.js";
import { loadTarget } from "../../targets/target.js";
import { compile } from "../compile.js";
import type { CoePlan } from "./compile-coe.js";
import type { Manifest, ManifestExpert } from "./manifest.js";
import { readManifest } from "./manifest.js";
import { socketTarget } from "./residency.js";
import type { TraceRequest } from "./trace.js";

/**
 * The graph with its weights read from the expert's file: references to the
 * shared external data location go to `weights`, others keep their file; all
 * become relative to the manifest folder (the modelDir the runtime is given).
 */
export function bindExpertWeights(module: Module, graphFile: string, sharedLocation: string | undefined, weights: string | undefined): Module {
  const graphDir = posix.dirname(graphFile);
  const rebind = (c: Constant): Constant => {
    if (c.kind !== "weight") return c;
    const file = weights !== undefined && c.ref.file === sharedLocation ? weights : posix.join(graphDir, c.ref.file);
    return { ...c, ref: { ...c.ref, file } };
  };
  return {
    ...module,
    graphs: module.graphs.map((g) => ({ ...g, constants: new Map([...g.constants].map(([k, c]) => [k, rebind(c)])) })),
  };
}

export interface RoutedResult {
  readonly expert: string;
  readonly routerLogits: readonly number[];
  /** Prompt followed by the generated ids. */
  readonly ids: readonly number[];
}

/**
 * Runs requests through a Composition of Experts on the reference runtime, as `tierflow run
 * OUT/` does: the router's plan picks the expert (argmax of its logits through the
 * manifest's routes), then that expert's plan generates greedily with its own weights. Plans
 * are compiled per prompt length on first use and kept.
 *
 * @example
 * ```ts
 * import { CoeRunner, readCoePlan } from "tierflow";
 *
 * const runner = CoeRunner.open(readCoePlan("out/coe"));
 * const { expert, ids } = await runner.run([1, 5, 9, 2], 8);
 * console.log(`routed to ${expert}:`, ids);
 * ```
 */
export class CoeRunner {
  private readonly plans = new Map<string, { plan: Plan; graph: Module }>();

  /** A runner for a manifest on a single-socket `target`, compiling at `opt` and, when given, in `dtype`. */
  constructor(readonly manifest: Manifest, readonly target: Target, readonly opt: 0 | 1 | 2 = 2, readonly dtype?: DType) {}

  /**
   * A runner for a compiled CoE: its manifest (from `manifestPath`, else the path the plan
   * records), target, optimisation level and dtype. A manifest that cannot be found or read
   * throws a TierflowError.
   */
  static open(plan: CoePlan, manifestPath?: string): CoeRunner {
    const file = manifestPath ?? plan.manifest;
    if (!existsSync(file)) fail(`cannot find the manifest the CoE was compiled from ('${file}'): give it with --manifest`);
    return new CoeRunner(readManifest(file), socketTarget(loadTarget(plan.target)), plan.options.opt as 0 | 1 | 2,
      plan.options.dtype !== "f32" ? (plan.options.dtype as DType) : undefined);
  }

  private async planFor(model: string, length: number, bind: (m: Module) => Module, key: string): Promise<{ plan: Plan; graph: Module }> {
    const cacheKey = `${key}@${length}`;
    let hit = this.plans.get(cacheKey);
    if (!hit) {
      const r = await compile(`${this.manifest.dir}/${model}`, {
        target: this.target, opt: this.opt, phase: "prefill", batch: 1, seq: length, ...(this.dtype ? { dtype: this.dtype } : {}),
      });
      hit = { plan: r.plan, graph: bind(r.graph) };
      this.plans.set(cacheKey, hit);
    }
    return hit;
  }

  private execute(p: { plan: Plan; graph: Module }, ids: readonly number[]): Tensor {
    const g = mainGraph(p.graph);
    const input = makeTensor("i64", [1, ids.length]);
    ids.forEach((id, i) => { (input.data as BigInt64Array)[i] = BigInt(id); });
    const { outputs } = executePlan(p.plan, { [g.inputs[0]!]: input }, { graph: p.graph, target: this.target, modelDir: this.manifest.dir });
    return outputs[g.outputs[0]!]!;
  }

  /** The router's logits for a prompt and the expert its argmax routes to. */
  async route(ids: readonly number[]): Promise<{ expert: string; logits: number[] }> {
    const model = this.manifest.router.model;
    const p = await this.planFor(model, ids.length, (m) => bindExpertWeights(m, model, undefined, undefined), "router");
    const logits = Array.from(this.execute(p, ids).data as Float32Array);
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    const expert = this.manifest.router.routes.get(best);
    if (expert === undefined) fail(`the router chose output ${best}, which the manifest's routes do not map to an expert`);
    return { expert, logits };
  }

  /** The manifest's expert of that name; an unknown name throws a TierflowError listing the experts. */
  expert(name: string): ManifestExpert {
    const e = this.manifest.experts.find((x) => x.name === name);
    if (!e) fail(`no expert '${name}' (the experts are: ${this.manifest.experts.map((x) => x.name).join(", ")})`);
    return e;
  }

  /** One expert's logits for a sequence. */
  async expertLogits(name: string, ids: readonly number[]): Promise<Tensor> {
    const e = this.expert(name);
    const shared = this.manifest.sharedData.get(e.graph);
    return this.execute(await this.planFor(e.graph, ids.length, (m) => bindExpertWeights(m, e.graph, shared, e.weights), `expert:${name}`), ids);
  }

  /** Prompt followed by `tokens` greedy ids from one expert. */
  async generate(name: string, prompt: readonly number[], tokens: number): Promise<number[]> {
    this.expert(name);
    const ids = [...prompt];
    for (let step = 0; step < tokens; step++) ids.push(argmaxLastRow(await this.expertLogits(name, ids)));
    return ids;
  }

  /**
   * Serve one request: route the prompt (unless `expert` is given), then generate `tokens`
   * greedy ids from the chosen expert. An empty prompt or an unknown expert throws a
   * TierflowError.
   */
  async run(prompt: readonly number[], tokens: number, expert?: string): Promise<RoutedResult> {
    if (prompt.length === 0) fail("the request has no token ids");
    const routed = expert === undefined ? await this.route(prompt) : { expert, logits: [] };
    return { expert: routed.expert, routerLogits: routed.logits, ids: await this.generate(routed.expert, prompt, tokens) };
  }
}

/** Give every request that has prompt ids but no expert the router's choice (and its second choice). */
export async function routeTrace(plan: CoePlan, trace: readonly TraceRequest[]): Promise<TraceRequest[]> {
  const runner = CoeRunner.open(plan);
  const out: TraceRequest[] = [];
  for (const r of trace) {
    if (r.expert !== undefined) { out.push(r); continue; }
    const { expert, logits } = await runner.route(r.promptIds!);
    const order = logits.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v || a.i - b.i);
    const second = order[1] !== undefined ? runner.manifest.router.routes.get(order[1].i) : undefined;
    out.push({ ...r, expert, ...(second !== undefined ? { second } : {}) });
  }
  return out;
}

