// A memory tier as an arena of the target's capacity, backed sparsely: bytes
// exist only for the blocks that are live, one ArrayBuffer per block, created
// when the plan first writes there and dropped when its allocation ends. An
// HBM of 64 GiB therefore costs only what the plan keeps in it at once.
//
// Addresses are still checked exactly: a block must lie inside the tier, and
// no two live blocks may share a byte. A plan that puts two live tensors on
// the same bytes is refused here instead of corrupting either of them.


export type ArenaName = "sram" | "hbm" | "ddr";

export interface Block {
  readonly tensor: string;
  readonly offset: number;
  readonly bytes: number;
  readonly data: Uint8Array;
  /** Sections the block may be touched in (-1 is load time). */
  readonly firstSection: number;
  readonly lastSection: number;
  /** Set once every byte holds the tensor's value. */
  written: boolean;
}

/** A refused access: the plan put a tensor somewhere it is not, or on bytes that are taken (the legality check's refusal). */
export { PlanRefusal as ResidencyError } from "../../ir/placement/legality.js";
import { PlanRefusal as ResidencyError } from "../../ir/placement/legality.js";

/** "in section 3 (s3)" or "at load time", for messages. */
export type SectionLabel = (section: number) => string;

export class TierArena {
  private readonly blocks = new Map<string, Block>();
  private usedBytes = 0;

  constructor(
    readonly tier: ArenaName,
    readonly capacity: number,
    private readonly label: SectionLabel,
    private readonly onChange: (tier: ArenaName, used: number) => void = () => {},
  ) {}

  get used(): number {
    return this.usedBytes;
  }

  get liveBlocks(): number {
    return this.blocks.size;
  }

  /** Create the block a tensor lives in; refuses bytes outside the tier or taken by a live block. */
  place(tensor: string, offset: number, bytes: number, life: { first: number; last: number }, section: number): Block {
    const where = `${this.tier}: '${tensor}' at bytes ${offset}..${offset + bytes}`;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(bytes) || offset < 0 || bytes < 0 || offset + bytes > this.capacity) {
      throw new ResidencyError(`${where} ${this.label(section)} lies outside the tier, which holds ${this.capacity} bytes`);
    }
    if (this.blocks.has(tensor)) throw new ResidencyError(`${where} ${this.label(section)}: the tensor already has a block in ${this.tier}`);
    for (const b of this.blocks.values()) {
      // An empty block (a zero-size tensor) occupies no byte.
      if (bytes > 0 && b.bytes > 0 && b.offset < offset + bytes && offset < b.offset + b.bytes) {
        throw new ResidencyError(`${where} ${this.label(section)} would overwrite '${b.tensor}' (bytes ${b.offset}..${b.offset + b.bytes}), which lives until the end of ${this.label(b.lastSection).replace(/^(in|at) /, "")}`);
      }
    }
    const block: Block = { tensor, offset, bytes, data: new Uint8Array(bytes), firstSection: life.first, lastSection: life.last, written: false };
    this.blocks.set(tensor, block);
    this.usedBytes += bytes;
    this.onChange(this.tier, this.usedBytes);
    return block;
  }

  find(tensor: string): Block | undefined {
    return this.blocks.get(tensor);
  }

  release(block: Block): void {
    if (this.blocks.get(block.tensor) !== block) return;
    this.blocks.delete(block.tensor);
    this.usedBytes -= block.bytes;
    this.onChange(this.tier, this.usedBytes);
  }

  /** Drop every block whose allocation ends at or before `section`, except those `retain` keeps. */
  releaseEnded(section: number, retain?: (block: Block) => boolean): void {
    for (const b of [...this.blocks.values()]) if (b.lastSection <= section && !retain?.(b)) this.release(b);
  }

  /** End of address space the live blocks use (where scratch may start). */
  highWater(): number {
    let end = 0;
    for (const b of this.blocks.values()) end = Math.max(end, b.offset + b.bytes);
    return end;
  }
}
