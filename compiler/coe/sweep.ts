// `--sweep-experts`: the same CoE with 1..N copies of one expert (one graph,
// its own weights each), residency re-planned for each count, a seeded
// uniform trace simulated over them: where latency jumps (experts no longer
// fit in HBM) and where the node runs out of memory (they no longer fit in DDR).

import { fail } from "../../ir/diagnostics.js";
import type { CoePlan } from "./compile-coe.js";
import { planResidency } from "./residency.js";
import type { Policy, SimResult } from "./simulate.js";
import { simulate } from "./simulate.js";
import type { TraceDistribution } from "./trace.js";
import { generateTrace } from "./trace.js";

const STEPS = [1, 2, 5, 10, 20, 30, 40, 45, 50, 60, 80, 100, 120, 140, 150, 160, 200, 300, 500, 700, 850, 900, 1000];

/** "1..1000" (a fixed ladder of counts inside the range, both ends included) or "1,10,100". */
export function parseSweep(text: string): number[] {
  const range = /^(\d+)\.\.(\d+)$/.exec(text);
  if (range) {
    const lo = Number(range[1]), hi = Number(range[2]);
    if (lo < 1 || hi < lo) fail(`--sweep-experts '${text}': need 1 <= low <= high`);
    return [...new Set([lo, ...STEPS.filter((s) => s > lo && s < hi), hi])];
  }
  const list = text.split(",").map((s) => Number(s));
  if (list.length === 0 || !list.every((n) => Number.isSafeInteger(n) && n >= 1)) fail(`--sweep-experts '${text}': give LOW..HIGH or a comma-separated list of counts`);
  return list;
}

/** The plan with `n` experts, all copies of its first expert (same graph and size), re-placed. */
export function planWithExperts(plan: CoePlan, n: number): CoePlan {
  const template = plan.experts[0]!;
  const names = Array.from({ length: n }, (_, i) => `${template.name}-${i}`);
  const residency = planResidency(plan.node, names.map((name) => ({ name, bytes: template.bytes, share: 1 / n })), plan.router.bytes,
    plan.residency.hbmReservedBytes - plan.router.bytes);
  const { experts, ...summary } = residency;
  return {
    ...plan,
    experts: experts.map((r) => ({ name: r.name, graph: template.graph, bytes: r.bytes, share: 1 / n, home: r.home, switchSeconds: r.switchSeconds })),
    residency: summary,
  };
}

export interface SweepRow {
  readonly experts: number;
  readonly result: SimResult;
  readonly pinned: number;
}

export interface SweepOptions {
  readonly requests: number;
  readonly rate: number;
  readonly seed: number;
  readonly distribution: TraceDistribution;
  readonly policy: Policy;
  readonly promptTokens?: number;
  readonly outputTokens?: number;
  readonly onPoint?: (n: number) => void;
}

/**
 * Simulate the same CoE with each count of experts in `counts`, all copies of its first
 * expert with their own weights, residency re-planned for each and a seeded trace over them
 * (what `tierflow simulate --sweep-experts` prints): where latency jumps as experts stop
 * fitting in HBM, and where they stop fitting in DDR. Bad trace options throw a TierflowError.
 *
 * @example
 * ```ts
 * import { compileCoe, readManifest, sweepExperts } from "tierflow";
 *
 * const { plan } = await compileCoe(readManifest("examples/coe/coe.json"));
 * const rows = sweepExperts(plan, [1, 10, 100, 1000], { requests: 200, rate: 4, seed: 1, distribution: "uniform", policy: "lru" });
 * for (const row of rows) console.log(row.experts, row.pinned, row.result.latencyP99, row.result.outOfMemory);
 * ```
 */
export function sweepExperts(plan: CoePlan, counts: readonly number[], o: SweepOptions): SweepRow[] {
  return counts.map((n) => {
    o.onPoint?.(n);
    const p = planWithExperts(plan, n);
    const trace = generateTrace({
      experts: p.experts.map((e) => e.name), requests: o.requests, rate: o.rate, distribution: o.distribution, seed: o.seed,
      ...(o.promptTokens !== undefined ? { promptTokens: o.promptTokens } : {}), ...(o.outputTokens !== undefined ? { outputTokens: o.outputTokens } : {}),
    });
    return { experts: n, result: simulate(p, trace, o.policy).result, pinned: p.experts.filter((e) => e.home === "hbm").length };
  });
}
