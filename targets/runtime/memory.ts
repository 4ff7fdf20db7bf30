// The chip's memory as the plan lays it out: one sparse arena per tier (SRAM,
// HBM, DDR) with the target's capacity, the streams of the running section,
// and host memory (the model file's literals, the caller's inputs and the
// results of host-side shape arithmetic).
//
// Every device access goes through `read` and `destination`, which hold the
// plan to its word: a tensor is read from the tier and address its allocation
// names, only in the sections that allocation covers and only once something
// (a load, a transfer or a kernel) has written it; a tensor without an
// allocation exists only as a stream inside the section that produced it. A
// view is its root's bytes under another shape. Anything else is refused with
// a ResidencyError naming the tensor, the tier and the section.

import type { DataflowModule, DfTensor } from "../../ir/dataflow/dataflow.js";
import type { Allocation, Plan, Transfer } from "../../ir/placement/plan.js";
import type { Tensor } from "../../ir/tensor.js";
import { tierCapacity } from "../../ir/placement/verify.js";
import { align, memoryIndex, message, sectionLabel } from "../../ir/placement/legality.js";
import type { Target } from "../../ir/target.js";
import type { ArenaName, Block } from "./arena.js";
import { ResidencyError, TierArena } from "./arena.js";
import { bytesToTensor, tensorToBytes } from "./bytes.js";

export { RESIDENT_ROLES } from "../../ir/placement/legality.js";

export const TIERS: readonly ArenaName[] = ["sram", "hbm", "ddr"];


/** Where a kernel's result goes: its block or a stream; `commit` marks it complete. */
export interface Destination {
  readonly data: Uint8Array;
  commit(): void;
}

/**
 * The part of a node-level plan one socket runs: its pipeline stage's
 * allocations and the view aliases of that stage's kernels (a view whose
 * producer ran on another stage is a tensor of its own here). Load time
 * fills the allocations that start at the stage's first section.
 */
export interface MemoryScope {
  readonly allocations: readonly Allocation[];
  readonly aliases: ReadonlyMap<string, string>;
  readonly firstSection: number;
}

export class DeviceMemory {
  readonly arenas: Readonly<Record<ArenaName, TierArena>>;
  /** Host memory: values the host holds by name (never checked against tiers). */
  readonly host = new Map<string, Tensor>();
  section = -1;
  private readonly allocations: ReadonlyMap<string, Allocation>;
  private readonly aliases: ReadonlyMap<string, string>;
  private readonly tensors: ReadonlyMap<string, DfTensor>;
  private streams = new Map<string, Uint8Array>();
  private readonly streamedIn = new Map<string, number>();
  private sramEnd = 0;
  private readonly loadSection: number;

  constructor(private readonly plan: Plan, target: Target, onOccupancy?: (tier: ArenaName, used: number) => void, scope?: MemoryScope) {
    const arena = (tier: ArenaName) => new TierArena(tier, tierCapacity(target, tier), this.label, onOccupancy);
    this.arenas = { sram: arena("sram"), hbm: arena("hbm"), ddr: arena("ddr") };
    ({ allocations: this.allocations, aliases: this.aliases, loadSection: this.loadSection, tensors: this.tensors } = memoryIndex(plan, scope));
  }

  readonly label = (section: number): string => sectionLabel(this.plan, section);

  get dataflow(): DataflowModule {
    return this.plan.dataflow;
  }

  /** The tensor that owns a view's bytes (itself when it is no view). */
  rootOf(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  info(name: string): DfTensor {
    const t = this.tensors.get(name);
    if (!t) throw new ResidencyError(message.unknownTensor(name));
    return t;
  }

  allocationOf(name: string): Allocation | undefined {
    return this.allocations.get(this.rootOf(name));
  }

  /** The bytes a device kernel reads in the current section (a view's are its root's); `reader` names it and the section. */
  read(name: string, reader: string): Uint8Array {
    const root = this.rootOf(name);
    const what = root === name ? `'${name}'` : `'${name}' (a view of '${root}')`;
    const stream = this.streams.get(root);
    if (stream) return stream;
    const a = this.allocations.get(root);
    if (!a) {
      const from = this.streamedIn.get(root);
      throw new ResidencyError(message.inNoTier(reader, what, from !== undefined ? this.label(from) : undefined));
    }
    const block = this.arenas[a.tier].find(root);
    const notResident = (why: string) => new ResidencyError(message.notResident(reader, what, a.tier, why));
    if (!block) {
      throw notResident(this.section > a.lastSection || this.section < a.firstSection ? message.coversSections(a) : message.notWritten);
    }
    if (!block.written) throw notResident("it has not been completely written yet");
    return block.data;
  }

  /** Where a kernel (or transfer) writes a tensor in the current section. */
  destination(name: string, writer: string): Destination {
    const t = this.info(name);
    const a = this.allocations.get(name);
    if (!a) {
      const data = new Uint8Array(t.bytes);
      return { data, commit: () => { this.streams.set(name, data); this.streamedIn.set(name, this.section); } };
    }
    const s = this.section;
    const loadTime = s < 0 && a.firstSection === this.loadSection;
    if (!loadTime && (s < a.firstSection || s > a.lastSection)) throw new ResidencyError(message.writeOutside(writer, name, a, this.label(s)));
    if (a.bytes !== t.bytes) throw new ResidencyError(message.allocationSize(a, t.bytes));
    const arena = this.arenas[a.tier];
    const block = arena.find(name) ?? arena.place(name, a.offset, a.bytes, { first: a.firstSection, last: a.lastSection }, s);
    return { data: block.data, commit: () => { block.written = true; } };
  }

  /** Store a whole tensor value (host results, inputs, literals) at its destination. */
  store(name: string, value: Tensor, writer: string): void {
    const dest = this.destination(name, writer);
    const bytes = tensorToBytes(value, this.info(name).dtype);
    if (bytes.byteLength !== dest.data.byteLength) {
      throw new ResidencyError(`${writer} gives '${name}' ${bytes.byteLength} bytes, the plan sizes it ${dest.data.byteLength}`);
    }
    dest.data.set(bytes);
    dest.commit();
  }

  /** Run one of the plan's transfers; returns the source block (the loader drops staging copies). */
  transfer(t: Transfer, what: string): Block | undefined {
    const where = this.label(this.section);
    if (t.to === "host") {
      // A value a host kernel computes with, read back from where the device left it.
      const info = this.info(t.tensor);
      this.host.set(t.tensor, bytesToTensor(this.read(t.tensor, what).slice(), info.dtype, info.dtype, info.shape));
      return undefined;
    }
    const a = this.allocations.get(t.tensor);
    if (!a) throw new ResidencyError(message.transferNoAllocation(what, t, where));
    if (a.tier !== t.to) throw new ResidencyError(message.transferWrongTier(what, t, where, a.tier));
    if (t.bytes !== a.bytes) throw new ResidencyError(message.transferSize(what, t, a));
    if (t.from === "host") {
      const value = this.host.get(t.tensor);
      if (!value) throw new ResidencyError(message.transferNotOnHost(what, t, where));
      this.store(t.tensor, value, what);
      return undefined;
    }
    const source = this.arenas[t.from].find(t.tensor);
    if (!source?.written) throw new ResidencyError(message.transferNotResident(what, t, where));
    const dest = this.destination(t.tensor, what);
    dest.data.set(source.data);
    dest.commit();
    return source;
  }

  /** A DDR block above every DDR allocation, for a weight on its way from the model file to HBM. */
  stageInDdr(tensor: string, bytes: number): Block {
    const base = align([...this.allocations.values()].filter((a) => a.tier === "ddr").reduce((m, a) => Math.max(m, a.offset + a.bytes), 0));
    return this.arenas.ddr.place(tensor, base, bytes, { first: -1, last: -1 }, this.section);
  }

  beginSection(section: number): void {
    this.section = section;
    this.streams = new Map();
    this.sramEnd = 0;
    for (const a of this.allocations.values()) {
      if (a.tier !== "sram" || a.firstSection > section || a.lastSection < section) continue;
      this.sramEnd = Math.max(this.sramEnd, a.offset + a.bytes);
      if (!this.arenas.sram.find(a.tensor)) this.arenas.sram.place(a.tensor, a.offset, a.bytes, { first: a.firstSection, last: a.lastSection }, section);
    }
  }

  /** A kernel's stage buffer in SRAM (the plan's `<kernel>/buffers` allocation), if it has one. */
  stageBuffer(kernel: string): Block | undefined {
    return this.arenas.sram.find(`${kernel}/buffers`);
  }

  /** SRAM past the section's stage buffers, for a kernel that runs whole-tensor; release it after. */
  scratch(kernel: string, bytes: number): Block {
    return this.arenas.sram.place(`${kernel}/scratch`, align(this.sramEnd), bytes, { first: this.section, last: this.section }, this.section);
  }

  /** Drop what ends here; `retain` keeps blocks for another pass (a pipeline's next micro-batch reuses the weights). */
  endSection(section: number, retain?: (block: Block) => boolean): void {
    for (const tier of TIERS) this.arenas[tier].releaseEnded(section, retain);
    this.streams = new Map();
  }
}
