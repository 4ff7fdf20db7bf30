// What each memory tier holds, for the visualiser's tier bars: live bytes in
// every section, the section where they peak, and the tensors live there by
// address. Peak live bytes is how placement defines plan.occupancy, so the
// bars add up to the plan's own numbers.

import type { TensorRole } from "../../ir/dataflow/dataflow.js";
import type { Allocation, Plan, TierName } from "../../ir/placement/plan.js";
import { tierCapacity } from "../../ir/placement/verify.js";
import type { Target } from "../../targets/target.js";

/** Stage buffers ("k3/buffers" in SRAM) are not dataflow tensors, so they get a role of their own. */
export type SegmentRole = TensorRole | "buffers";

export interface TierSegment {
  readonly tensor: string;
  readonly role: SegmentRole;
  readonly offset: number;
  readonly bytes: number;
  readonly firstSection: number;
  readonly lastSection: number;
}

export interface TierView {
  readonly tier: TierName;
  readonly capacity: number;
  /** Peak live bytes over the sections: equals plan.occupancy[tier]. */
  readonly peak: number;
  readonly peakSection: number;
  readonly liveBySection: readonly number[];
  /** Allocations live in the peak section, by address. */
  readonly segments: readonly TierSegment[];
}

export const TIERS: readonly TierName[] = ["sram", "hbm", "ddr"];

/** Live bytes per section, by a difference array: O(allocations + sections) even for long-lived weights. */
function liveBytes(allocations: readonly Allocation[], sections: number): number[] {
  const delta = new Array<number>(sections + 1).fill(0);
  for (const a of allocations) {
    delta[a.firstSection]! += a.bytes;
    delta[a.lastSection + 1]! -= a.bytes;
  }
  const live: number[] = [];
  let running = 0;
  for (let s = 0; s < sections; s++) live.push((running += delta[s]!));
  return live;
}

export function tierViews(plan: Plan, target: Target): TierView[] {
  const roles = new Map<string, TensorRole>(plan.dataflow.tensors.map((t) => [t.name, t.role]));
  const sections = Math.max(1, plan.sections.length);
  return TIERS.map((tier) => {
    const allocations = plan.allocations.filter((a) => a.tier === tier);
    const liveBySection = liveBytes(allocations, sections);
    let peakSection = 0;
    liveBySection.forEach((bytes, s) => { if (bytes > liveBySection[peakSection]!) peakSection = s; });
    const segments = allocations
      .filter((a) => a.firstSection <= peakSection && peakSection <= a.lastSection)
      .sort((a, b) => a.offset - b.offset)
      .map((a): TierSegment => ({
        tensor: a.tensor, role: roles.get(a.tensor) ?? "buffers", offset: a.offset, bytes: a.bytes,
        firstSection: a.firstSection, lastSection: a.lastSection,
      }));
    return { tier, capacity: tierCapacity(target, tier), peak: liveBySection[peakSection] ?? 0, peakSection, liveBySection, segments };
  });
}
