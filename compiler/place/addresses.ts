// Address assignment in one tier for tensors with live ranges over sections.
//
// Algorithm: first fit, larger and longer-lived tensors first; a tensor takes
// the lowest aligned offset that no overlapping-in-time tensor occupies. Tensors
// whose lifetimes do not overlap share addresses.
// Source: the classic offline dynamic storage allocation heuristic (as in
// TFLite's and TVM's arena planners). Known weakness: not optimal; the arena can
// exceed the peak of live bytes by fragmentation.

export interface Interval {
  readonly name: string;
  readonly bytes: number;
  readonly first: number;
  readonly last: number;
}

export interface Placed extends Interval {
  readonly offset: number;
}

import { ALIGNMENT } from "../../ir/placement/plan.js";

export { ALIGNMENT };

const align = (n: number) => Math.ceil(n / ALIGNMENT) * ALIGNMENT;

export function assignAddresses(intervals: readonly Interval[]): Placed[] {
  const order = [...intervals].sort((a, b) =>
    b.bytes - a.bytes || (b.last - b.first) - (a.last - a.first) || a.first - b.first || a.name.localeCompare(b.name));
  const placed: Placed[] = [];
  // The same tensors kept in offset order, so the clashes come out sorted without a sort per tensor.
  const byOffset: Placed[] = [];
  for (const t of order) {
    let offset = 0;
    for (const p of byOffset) {
      if (p.first > t.last || t.first > p.last) continue;
      if (offset + t.bytes <= p.offset) break;
      offset = Math.max(offset, align(p.offset + p.bytes));
    }
    const at = { ...t, offset };
    placed.push(at);
    byOffset.splice(upperBound(byOffset, offset), 0, at);
  }
  return placed;
}

/** Index of the first placed tensor whose offset is above `offset`. */
function upperBound(sorted: readonly Placed[], offset: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.offset <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The arena size the placed tensors need. */
export function arenaBytes(placed: readonly Placed[]): number {
  return placed.reduce((m, p) => Math.max(m, p.offset + p.bytes), 0);
}
