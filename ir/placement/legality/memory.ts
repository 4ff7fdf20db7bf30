// The legality check's memory: a plan run without data keeps only which blocks
// exist in which tier and are written, which tensors are streams of the current
// section, and which values the host holds, and refuses, in the runtime's
// words, what targets/runtime/memory.ts would refuse.

import type { DfTensor } from "../../dataflow/dataflow.js";
import { cachesOf, indexBy, tensorMap, viewAliases } from "../../dataflow/dataflow.js";
import type { Target } from "../../target.js";
import type { Allocation, Plan, Transfer } from "../plan.js";
import { ALIGNMENT } from "../plan.js";
import type { StageScope } from "../socket-scope.js";
import { tierCapacity } from "../verify.js";
import { message, refuse, sectionLabel, tensorSizeProblem } from "./words.js";

/** Roles whose data is in memory from load time on (weights and constants): no kernel writes them. */
export const RESIDENT_ROLES: ReadonlySet<string> = new Set(["weight", "constant"]);

/** Ops whose host kernel reads only the shape of its input, never its values. */
export const SHAPE_ONLY_OPS: ReadonlySet<string> = new Set(["Shape", "Size"]);

export const align = (n: number): number => Math.ceil(n / ALIGNMENT) * ALIGNMENT;

/** What a memory (a socket's, or the whole plan's) knows of the plan by name; refuses tensors whose sizes disagree with their shapes. */
export interface MemoryIndex {
  readonly allocations: ReadonlyMap<string, Allocation>;
  readonly aliases: ReadonlyMap<string, string>;
  /** Load time fills the allocations that start here (a pipeline stage's first section). */
  readonly loadSection: number;
  readonly tensors: ReadonlyMap<string, DfTensor>;
}

export function memoryIndex(plan: Plan, scope?: Pick<StageScope, "allocations" | "aliases" | "firstSection">): MemoryIndex {
  const pasts = new Map(cachesOf(plan.dataflow).map((c) => [c.past, c.present]));
  for (const t of plan.dataflow.tensors) {
    const problem = tensorSizeProblem(t, pasts.get(t.name));
    if (problem) refuse(problem);
  }
  return {
    allocations: indexBy(scope?.allocations ?? plan.allocations, (a) => a.tensor),
    aliases: scope?.aliases ?? viewAliases(plan.dataflow),
    loadSection: scope?.firstSection ?? 0,
    tensors: tensorMap(plan.dataflow),
  };
}

interface BlockState {
  readonly allocation: Allocation;
  written: boolean;
}

/** The abstract run's memory: which blocks exist and are written, this section's streams, the host's values. */
export class AbstractMemory {
  readonly allocations: ReadonlyMap<string, Allocation>;
  readonly aliases: ReadonlyMap<string, string>;
  readonly tensors: ReadonlyMap<string, DfTensor>;
  readonly blocks = new Map<string, BlockState>();
  readonly host = new Set<string>();
  streams = new Set<string>();
  readonly streamedIn = new Map<string, number>();
  section = -1;

  readonly loadSection: number;

  constructor(readonly plan: Plan, readonly target: Target, readonly scope?: StageScope) {
    ({ allocations: this.allocations, aliases: this.aliases, loadSection: this.loadSection, tensors: this.tensors } = memoryIndex(plan, scope));
  }

  get where(): string {
    return sectionLabel(this.plan, this.section);
  }

  rootOf(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  info(name: string): DfTensor {
    return this.tensors.get(name) ?? refuse(message.unknownTensor(name));
  }

  allocationOf(name: string): Allocation | undefined {
    return this.allocations.get(this.rootOf(name));
  }

  read(name: string, reader: string): void {
    const root = this.rootOf(name);
    const what = root === name ? `'${name}'` : `'${name}' (a view of '${root}')`;
    if (this.streams.has(root)) return;
    const a = this.allocations.get(root);
    if (!a) {
      const from = this.streamedIn.get(root);
      refuse(message.inNoTier(reader, what, from !== undefined ? sectionLabel(this.plan, from) : undefined));
    }
    const block = this.blocks.get(root);
    if (!block) {
      const why = this.section > a!.lastSection || this.section < a!.firstSection ? message.coversSections(a!) : message.notWritten;
      refuse(message.notResident(reader, what, a!.tier, why));
    }
    if (!block!.written) refuse(message.notResident(reader, what, a!.tier, "it has not been completely written yet"));
  }

  write(name: string, writer: string): void {
    const t = this.info(name);
    const a = this.allocations.get(name);
    if (!a) {
      this.streams.add(name);
      this.streamedIn.set(name, this.section);
      return;
    }
    const loadTime = this.section < 0 && a.firstSection === this.loadSection;
    if (!loadTime && (this.section < a.firstSection || this.section > a.lastSection)) refuse(message.writeOutside(writer, name, a, this.where));
    if (a.bytes !== t.bytes) refuse(message.allocationSize(a, t.bytes));
    this.place(a);
    this.blocks.get(name)!.written = true;
  }

  place(a: Allocation): void {
    if (this.blocks.has(a.tensor)) return;
    const capacity = tierCapacity(this.target, a.tier);
    if (!Number.isSafeInteger(a.offset) || !Number.isSafeInteger(a.bytes) || a.offset < 0 || a.bytes < 0 || a.offset + a.bytes > capacity) {
      refuse(message.outsideTier(a.tier, a.tensor, a.offset, a.bytes, this.where, capacity));
    }
    this.blocks.set(a.tensor, { allocation: a, written: false });
    (this.expiring.get(a.lastSection) ?? this.expiring.set(a.lastSection, []).get(a.lastSection)!).push(a.tensor);
  }

  transfer(t: Transfer, what: string): void {
    if (t.to === "host") {
      this.read(t.tensor, what);
      this.host.add(t.tensor);
      return;
    }
    const a = this.allocations.get(t.tensor);
    if (!a) refuse(message.transferNoAllocation(what, t, this.where));
    if (a!.tier !== t.to) refuse(message.transferWrongTier(what, t, this.where, a!.tier));
    if (t.bytes !== a!.bytes) refuse(message.transferSize(what, t, a!));
    if (t.from === "host") {
      if (!this.host.has(t.tensor)) refuse(message.transferNotOnHost(what, t, this.where));
    } else {
      const source = this.blocks.get(t.tensor);
      const staged = t.from === "ddr" && this.staging.has(t.tensor);
      if (!staged && (!source || source.allocation.tier !== t.from || !source.written)) refuse(message.transferNotResident(what, t, this.where));
    }
    this.write(t.tensor, what);
  }

  /** Weights on their way from the model file to HBM, in a DDR block above every DDR allocation. */
  readonly staging = new Set<string>();

  stageInDdr(tensor: string, bytes: number): void {
    const capacity = tierCapacity(this.target, "ddr");
    const base = align([...this.allocations.values()].filter((a) => a.tier === "ddr").reduce((m, a) => Math.max(m, a.offset + a.bytes), 0));
    if (base + bytes > capacity) refuse(message.outsideTier("ddr", tensor, base, bytes, this.where, capacity));
    this.staging.add(tensor);
  }

  beginSection(section: number): void {
    this.section = section;
    this.streams = new Set();
    for (const a of this.sramLiveIn(section)) this.place(a);
  }

  endSection(section: number): void {
    for (const [last, names] of this.expiring) {
      if (last > section) continue;
      for (const name of names) if (this.blocks.get(name)?.allocation.lastSection === last) this.blocks.delete(name);
      this.expiring.delete(last);
    }
    this.streams = new Set();
  }

  /** Names of placed blocks by their allocation's last section: what each section's end frees. */
  private readonly expiring = new Map<number, string[]>();
  /** SRAM allocations live in each section, in the plan's order; built once, not filtered per section. */
  private sramBySection: Map<number, Allocation[]> | undefined;

  private sramLiveIn(section: number): readonly Allocation[] {
    const last = this.plan.sections.length - 1;
    if (section < 0 || section > last) return [...this.allocations.values()].filter((a) => a.tier === "sram" && a.firstSection <= section && a.lastSection >= section);
    if (!this.sramBySection) {
      this.sramBySection = new Map();
      for (const a of this.allocations.values()) {
        if (a.tier !== "sram") continue;
        for (let s = Math.max(0, a.firstSection); s <= Math.min(last, a.lastSection); s++) {
          (this.sramBySection.get(s) ?? this.sramBySection.set(s, []).get(s)!).push(a);
        }
      }
    }
    return this.sramBySection.get(section) ?? [];
  }

  /** The stage buffer the plan gives a kernel, if any. */
  stageBuffer(kernel: string): Allocation | undefined {
    const a = this.allocations.get(`${kernel}/buffers`);
    return a && this.blocks.has(a.tensor) ? a : undefined;
  }
}


