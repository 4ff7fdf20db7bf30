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

export const ALIGNMENT = 64;

const align = (n: number) => Math.ceil(n / ALIGNMENT) * ALIGNMENT;

export function assignAddresses(intervals: readonly Interval[]): Placed[] {
  const order = [...intervals].sort((a, b) =>
    b.bytes - a.bytes || (b.last - b.first) - (a.last - a.first) || a.first - b.first || a.name.localeCompare(b.name));
  const placed: Placed[] = [];
  for (const t of order) {
    const clashes = placed
      .filter((p) => p.first <= t.last && t.first <= p.last)
      .sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const p of clashes) {
      if (offset + t.bytes <= p.offset) break;
      offset = Math.max(offset, align(p.offset + p.bytes));
    }
    placed.push({ ...t, offset });
  }
  return placed;
}

/** The arena size the placed tensors need. */
export function arenaBytes(placed: readonly Placed[]): number {
  return placed.reduce((m, p) => Math.max(m, p.offset + p.bytes), 0);
}
