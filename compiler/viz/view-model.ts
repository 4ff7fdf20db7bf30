// Everything the page derives from a plan, computed here in typed code so the
// browser script only draws: tier contents, the graph tree, where every tensor
// lives, section start times, and the trace's spans.

import type { Plan } from "../../ir/placement/plan.js";
import type { Target } from "../../targets/target.js";
import type { PassRecord } from "../passes/pipeline.js";
import { viewAliases } from "../place/placement.js";
import { floorBytes, workWords } from "../work-words.js";
import type { VizGraph } from "./hierarchy.js";
import { buildGraph } from "./hierarchy.js";
import type { NodeView } from "./sockets.js";
import { nodeView } from "./sockets.js";
import type { TierView } from "./tiers.js";
import { tierViews } from "./tiers.js";
import type { TraceSpan } from "./trace.js";
import { traceSource, traceSpans } from "./trace.js";

/**
 * Where a tensor's bytes are: a memory tier; "stream" for tiles passed between
 * stages of one section; "host" for shape arithmetic done on the host; "none"
 * for a tensor nothing reads.
 */
export type TensorHome = "hbm" | "ddr" | "stream" | "host" | "none";

export interface VizModel {
  readonly target: Target;
  readonly tiers: readonly TierView[];
  readonly graph: VizGraph;
  /** Parallel to plan.dataflow.tensors. */
  readonly tensorHome: readonly TensorHome[];
  /** Predicted start of each section, in seconds from the first. */
  readonly sectionStart: readonly number[];
  /** Null when no trace was given. */
  readonly trace: readonly TraceSpan[] | null;
  /** What the trace measured on, when it says (the runtime's: the CPU reference backend, not the chip). */
  readonly measuredOn: string | null;
  /**
   * A node-level plan's layout ("tp=8,pp=1,dp=1") and every socket of the node with its own
   * figures; the chip, tiers and graph draw the one per-socket program, each stage's sockets
   * running its sections of it.
   */
  readonly parallel: NodeView | null;
  /** Each pass and stage the compile ran, in order, with the IR before and after it where it was recorded; empty when not given. No times: the page is the same for the same input. */
  readonly passes: readonly PassView[];
  /** The plan's work in the model's terms (tokens, images, inputs) and what its floor moves. */
  readonly words: { readonly tokens: boolean; readonly items: string; readonly per: string; readonly floor: string };
}

/** One pass's run as the page shows it: the IR before it is the IR after the run before. */
export interface PassView {
  readonly pass: string;
  readonly before?: string;
  readonly after?: string;
}

function passViews(records: readonly PassRecord[]): PassView[] {
  return records.map((r, i) => {
    const before = i > 0 ? records[i - 1]!.after : undefined;
    return { pass: r.pass, ...(r.after !== undefined && before !== undefined ? { before } : {}), ...(r.after !== undefined ? { after: r.after } : {}) };
  });
}

function tensorHomes(plan: Plan): TensorHome[] {
  // SRAM holds only stage buffers ("k3/buffers"), never a tensor of the graph.
  const tier = new Map<string, TensorHome>();
  for (const a of plan.allocations) if (a.tier !== "sram") tier.set(a.tensor, a.tier);
  const aliases = viewAliases(plan.dataflow);
  const producerKind = new Map<string, string>();
  for (const k of plan.dataflow.kernels) for (const o of k.outputs) producerKind.set(o, k.kind);
  return plan.dataflow.tensors.map((t) => {
    const root = aliases.get(t.name) ?? t.name;
    const placed = tier.get(root);
    if (placed) return placed;
    const kind = producerKind.get(root);
    return kind === undefined ? "none" : kind === "host" ? "host" : "stream";
  });
}

export function buildViewModel(plan: Plan, target: Target, trace?: unknown, passes: readonly PassRecord[] = []): VizModel {
  let clock = 0;
  const sectionStart = plan.sections.map((s) => {
    const start = clock;
    clock += s.cost.seconds;
    return start;
  });
  return {
    target,
    tiers: tierViews(plan, target),
    graph: buildGraph(plan),
    tensorHome: tensorHomes(plan),
    sectionStart,
    trace: trace === undefined ? null : traceSpans(trace, plan),
    measuredOn: trace === undefined ? null : traceSource(trace).measuredOn ?? null,
    words: { ...workWords(plan), floor: floorBytes(plan) },
    parallel: nodeView(plan),
    passes: passViews(passes),
  };
}
