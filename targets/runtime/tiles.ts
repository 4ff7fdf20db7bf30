// The on-chip buffer a kernel's tiles pass through. What each step stages is
// the plan's (ir/dataflow/stream-steps.ts), shared with the lowering that sized the
// buffer and the legality check that proved it big enough; this holds the bytes.

import type { StagedItem } from "../../ir/dataflow/stream-steps.js";
import { stageOverflow } from "../../ir/dataflow/stream-steps.js";
import type { Block } from "./arena.js";
import { ResidencyError } from "./arena.js";

export type { RowMap } from "../../ir/dataflow/streaming.js";
export type { StagedItem } from "../../ir/dataflow/stream-steps.js";
export { product, rowMapping } from "../../ir/dataflow/streaming.js";

/**
 * A kernel's stage buffer, the SRAM block the plan gives it. Tiled, it is
 * double buffered, as the compiler sized it: one half holds the step being
 * computed while the next streams into the other, so one step's operands must
 * fit in half. A whole-tensor kernel stages everything at once in the whole
 * buffer. A step that does not fit is refused, which is how a buffer sized too
 * small shows up (the legality check refuses such a plan before it runs).
 */
export class StageBuffer {
  private steps = 0;

  constructor(private readonly block: Block | undefined, private readonly who: string, private readonly whole = false) {}

  /** Room for one step's items, in the order given. */
  reserve(items: readonly StagedItem[]): Uint8Array[] {
    const room = this.block ? (this.whole ? this.block.bytes : Math.floor(this.block.bytes / 2)) : 0;
    const total = items.reduce((s, i) => s + i.bytes, 0);
    // An empty step (a zero-size tensor) stages nothing and needs no buffer.
    if (total === 0) return items.map(() => new Uint8Array(0));
    if (!this.block || total > room) throw new ResidencyError(stageOverflow(this.who, this.steps, items, this.block, this.whole));
    return layoutItems(this.block.data, this.whole ? 0 : (this.steps++ % 2) * room, items);
  }
}

/** Slots for `items` from `base` on, largest elements first so typed views stay aligned; returned in the order given. */
export function layoutItems(data: Uint8Array, base: number, items: readonly StagedItem[]): Uint8Array[] {
  const order = items.map((item, i) => ({ item, i })).sort((a, b) => b.item.elem - a.item.elem || a.i - b.i);
  const views = new Array<Uint8Array>(items.length);
  let offset = base;
  for (const { item, i } of order) {
    views[i] = data.subarray(offset, offset + item.bytes);
    offset += item.bytes;
  }
  return views;
}
