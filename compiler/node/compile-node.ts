// Node-level compilation: `--parallel` (one layout, or `auto` to search them)
// and `--disaggregate` (prefill and decode on separate groups of sockets).
// compile.ts hands over the fused graph; this lowers it, plans layouts with
// node-plan.ts and returns the plan's parts. Also the one-socket check on a
// node target: a model whose weights do not fit one socket's HBM is refused
// with a layout that fits, rather than planned with weights in DDR.

import type { DataflowModule } from "../../ir/dataflow/dataflow.js";
import { roleBytes, weightBytes } from "../../ir/dataflow/dataflow.js";
import type { Module } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";
import type { Target } from "../../targets/target.js";
import { socketCount } from "../../targets/target.js";
import type { LowerRequest } from "../plan-socket.js";
import { lowerForTarget } from "../plan-socket.js";
import { collectiveSeconds } from "./collectives.js";
import { kvBytesPerToken } from "./kv-cache.js";
import type { ModelFacts, ParallelLayout, ParallelRequest } from "./layout.js";
import { enumerateLayouts, formatLayout, groupSize, modelFacts, parseParallel, resolveLayout } from "./layout.js";
import type { LayoutContext, PlanParts } from "./node-plan.js";
import { planLayout, shardedProgram } from "./node-plan.js";
import { formatBytes as gib } from "../format.js";
import { attrsLookup } from "./tensor-parallel.js";
import type { OnStage } from "../stage.js";

/** One row of `--parallel auto`'s table. */
export interface LayoutTrial {
  readonly layout: ParallelLayout;
  /** Undefined when the layout fits; otherwise why not. */
  readonly problem?: string;
  readonly stepSeconds: number;
  readonly tokensPerSecondPerUser: number;
  readonly tokensPerSecond: number;
  readonly chosen: boolean;
}

export interface NodeCompileOptions {
  readonly parallel: string | ParallelRequest | undefined;
  readonly disaggregate: string | undefined;
  readonly onStage?: OnStage;
}

export interface NodeCompileResult {
  readonly dataflow: DataflowModule;
  readonly planParts: PlanParts;
  readonly search?: readonly LayoutTrial[];
}

function requireNode(target: Target, flag: string): NonNullable<Target["node"]> {
  if (!target.node) fail(`${flag} needs a node target (one with several sockets); ${target.name} is one socket: try sn40l-node, dgx-h100 or dgx-a100`);
  return target.node;
}

/** A lowering cache (one lowering per batch) and kernel attributes, shared by every layout tried. */
function layoutContext(graph: Module, target: Target, request: LowerRequest, socketBase = 0): LayoutContext {
  const cache = new Map<number, DataflowModule>();
  return {
    target, request, socketBase, attrsOf: attrsLookup(mainGraph(graph).nodes),
    lowered: (batch) => {
      if (!Number.isInteger(batch) || batch < 1) fail(`internal: a layout asked for batch ${batch}`);
      if (!cache.has(batch)) cache.set(batch, lowerForTarget(graph, target, { ...request, batch }));
      return cache.get(batch)!;
    },
  };
}

/** Lowest step time first; within 1% of it, the higher node throughput. */
function better(a: LayoutTrial, b: LayoutTrial): number {
  if (!!a.problem !== !!b.problem) return a.problem ? 1 : -1;
  const close = Math.abs(a.stepSeconds - b.stepSeconds) <= 0.01 * Math.min(a.stepSeconds, b.stepSeconds);
  return close ? b.tokensPerSecond - a.tokensPerSecond : a.stepSeconds - b.stepSeconds;
}

/** Try every layout of the node (or of a group of it) and keep the best. */
function searchLayouts(ctx: LayoutContext, facts: ModelFacts, onStage: OnStage): { parts: PlanParts; trials: LayoutTrial[] } {
  const layouts = enumerateLayouts(ctx.target, facts, ctx.request.batch);
  const step = (done: number) => ({ done, total: layouts.length, unit: "layouts" });
  const results = layouts.map((layout, i) => {
    onStage(`plan ${formatLayout(layout)}`, step(i));
    return { layout, outcome: planLayout(ctx, layout) };
  });
  onStage("compare layouts", step(layouts.length));
  const trials: LayoutTrial[] = results.map(({ layout, outcome }) => outcome.fits
    ? { layout, stepSeconds: outcome.parts.parallel.prediction.stepSeconds, tokensPerSecondPerUser: outcome.parts.parallel.prediction.tokensPerSecondPerUser, tokensPerSecond: outcome.parts.parallel.prediction.tokensPerSecond, chosen: false }
    : { layout, problem: outcome.problem, stepSeconds: Infinity, tokensPerSecondPerUser: 0, tokensPerSecond: 0, chosen: false });
  const order = trials.map((t, i) => i).sort((i, j) => better(trials[i]!, trials[j]!));
  const best = order[0];
  const outcome = best === undefined ? undefined : results[best]!.outcome;
  if (!outcome?.fits) {
    fail(`no parallel layout of ${ctx.target.name} fits the model: ${trials.map((t) => `${formatLayout(t.layout)}: ${t.problem}`).join("; ") || "the model's heads and layers admit none"}`);
  }
  return { parts: outcome.parts, trials: order.map((i, rank) => ({ ...trials[i]!, chosen: rank === 0 })) };
}

function planRequest(ctx: LayoutContext, facts: ModelFacts, request: ParallelRequest, onStage: OnStage, flag: string): { parts: PlanParts; trials?: LayoutTrial[] } {
  if (request.kind === "auto") return searchLayouts(ctx, facts, onStage);
  const layout = resolveLayout(request, ctx.target, facts, ctx.request.batch, flag);
  onStage(`plan ${formatLayout(layout)}`);
  const outcome = planLayout(ctx, layout);
  if (!outcome.fits) fail(`${flag} ${formatLayout(layout)}: ${outcome.problem}; ${suggestLayout(ctx, facts)}`);
  return { parts: outcome.parts };
}

export function compileNodePlan(graph: Module, target: Target, request: LowerRequest, options: NodeCompileOptions): NodeCompileResult {
  const onStage = options.onStage ?? (() => {});
  if (options.disaggregate !== undefined) return compileDisaggregated(graph, target, request, options);
  requireNode(target, "--parallel");
  const ctx = layoutContext(graph, target, request);
  const facts = modelFacts(ctx.lowered(request.batch));
  const parallel = typeof options.parallel === "string" ? parseParallel(options.parallel) : options.parallel ?? { kind: "auto" as const };
  const { parts, trials } = planRequest(ctx, facts, parallel, onStage, "--parallel");
  return { dataflow: parts.dataflow, planParts: parts, ...(trials ? { search: trials } : {}) };
}

/** `prefill=P,decode=D` -> the two group sizes. */
export function parseDisaggregate(text: string, sockets: number): { prefill: number; decode: number } {
  const m = /^prefill=(\d+),decode=(\d+)$/.exec(text.replace(/\s/g, ""));
  if (!m) fail(`--disaggregate '${text}': expected prefill=P,decode=D (sockets of each group, e.g. prefill=2,decode=6)`);
  const prefill = Number(m[1]), decode = Number(m[2]);
  if (prefill < 1 || decode < 1) fail(`--disaggregate '${text}': each group needs at least one socket`);
  if (prefill + decode > sockets) fail(`--disaggregate '${text}': the groups need ${prefill + decode} sockets; the target has ${sockets}`);
  return { prefill, decode };
}

/** A node of `sockets` sockets cut out of `target` (a disaggregated group). */
function subNode(target: Target, sockets: number): Target {
  return { ...target, node: { ...target.node!, sockets } };
}

function compileDisaggregated(graph: Module, target: Target, request: LowerRequest, options: NodeCompileOptions): NodeCompileResult {
  const node = requireNode(target, "--disaggregate");
  const groups = parseDisaggregate(options.disaggregate!, node.sockets);
  const onStage = options.onStage ?? (() => {});
  const plans = (["prefill", "decode"] as const).map((phase) => {
    const base = phase === "prefill" ? 0 : groups.prefill;
    const own = phase === request.phase;
    const phaseRequest = { ...request, phase, batch: phase === "prefill" && !own ? 1 : request.batch };
    const ctx = layoutContext(graph, subNode(target, groups[phase]), phaseRequest, base);
    const facts = modelFacts(ctx.lowered(phaseRequest.batch));
    const wanted = own && options.parallel !== undefined ? (typeof options.parallel === "string" ? parseParallel(options.parallel) : options.parallel) : { kind: "auto" as const };
    onStage(`${phase} group (${groups[phase]} sockets)`);
    return { phase, ...planRequest(ctx, facts, wanted, onStage, `--parallel (${phase} group)`) };
  });
  const [prefill, decode] = plans as [typeof plans[0], typeof plans[0]];
  const own = request.phase === "prefill" ? prefill : decode;
  const pl = prefill.parts.parallel, dl = decode.parts.parallel;
  // KV of one prompt moves from the prefill group's sockets to the decode group's, over as many links as the smaller group splits it.
  const kvBytes = kvBytesPerToken(lowerForTarget(graph, target, { ...request, phase: "prefill", batch: 1 })) * request.seq;
  const links = Math.min(groupSize(pl.layout), groupSize(dl.layout));
  const parts: PlanParts = {
    ...own.parts,
    parallel: {
      ...own.parts.parallel,
      sockets: node.sockets,
      disaggregation: {
        prefillSockets: socketsOf(pl), prefillLayout: formatLayout(pl.layout), prefillSeconds: pl.prediction.latencySeconds,
        decodeSockets: socketsOf(dl), decodeLayout: formatLayout(dl.layout), decodeSeconds: dl.prediction.stepSeconds,
        kvBytesPerRequest: kvBytes, kvTransferSeconds: collectiveSeconds("send", kvBytes / links, 2, node.link),
      },
    },
  };
  return { dataflow: parts.dataflow, planParts: parts, ...(own.trials ? { search: own.trials } : {}) };
}

function socketsOf(p: PlanParts["parallel"]): number[] {
  return [...new Set(p.stages.flatMap((s) => s.sockets))].sort((a, b) => a - b);
}

/** The smallest layout (fewest sockets per replica) whose weights fit each socket's HBM. */
function suggestLayout(ctx: LayoutContext, facts: ModelFacts): string {
  const candidates = enumerateLayouts(ctx.target, facts, ctx.request.batch)
    .map((l) => ({ ...l, dp: 1 }))
    .sort((a, b) => groupSize(a) * a.pp - groupSize(b) * b.pp || b.tp - a.tp);
  for (const layout of candidates) {
    const { module } = shardedProgram(ctx, layout);
    const weights = weightBytes(module) / layout.pp;
    if (weights <= 0.9 * ctx.target.hbm.bytes) {
      return `try --parallel ${formatLayout({ ...layout, dp: 1, microBatches: 1 }).replace(/,dp=1/, "").replace(/,pp=1/, "")} (about ${gib(weights)} of weights per socket) or --parallel auto`;
    }
  }
  return "no layout of this node holds the weights in HBM";
}

/**
 * On a node target, a one-socket plan is refused when the weights do not fit
 * the socket's HBM: the node can hold them in HBM across sockets, which is
 * what SN40L's compiler does (weights stay in HBM, DDR is for spills and
 * idle experts). A single-socket target keeps planning with weights in DDR.
 */
export function checkSingleSocketFits(m: DataflowModule, target: Target, graph?: Module, request?: LowerRequest): void {
  if (socketCount(target) <= 1) return;
  const weights = weightBytes(m), kv = roleBytes(m, ["kv-cache"]);
  if (weights <= target.hbm.bytes) return;
  const suggestion = graph && request ? suggestLayout(layoutContext(graph, target, request), modelFacts(m)) : "try --parallel auto";
  fail(`the weights do not fit one socket of ${target.name}: they need ${gib(weights)} (plus ${gib(kv)} of KV cache), one socket's HBM holds ${gib(target.hbm.bytes)}, ` +
    `so ${gib(weights - target.hbm.bytes)} of weights would be read from DDR at every step; ${suggestion} ` +
    "(a single-socket target plans one socket with the excess weights in DDR)");
}
