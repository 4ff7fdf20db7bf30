// Memory placement: every tensor gets a tier and an address range.
//
// Algorithm (after SN40L's compiler, MICRO 2024, section VII):
// 1. Live ranges in sections. Weights, constants and KV caches live for the
//    whole run; activations from their producing section to their last use.
//    An activation produced and consumed inside one section never leaves the
//    chip: it is a stream between stages, held in that section's SRAM buffers.
// 2. HBM by default. While the peak of live HBM bytes exceeds HBM, spill to DDR
//    the tensor with the smallest bandwidth need (bytes moved per section it
//    lives across); activations go before weights at equal need, so weights
//    stay in HBM while they fit.
//    Then bring back into HBM, neediest first, spilled tensors that fit again
//    once a larger one has gone.
// 3. Addresses by first fit over live ranges: tensors whose lifetimes do not
//    overlap share addresses.
// Known weakness: spilling is whole-tensor and static; a tensor is never
// moved between tiers part-way through the run.

import type { DataflowModule, DfTensor } from "../../ir/dataflow/dataflow.js";
import { cachesOf, tensorMap, viewAliases } from "../../ir/dataflow/dataflow.js";
import type { Allocation, TierName, Transfer } from "../../ir/placement/plan.js";
import { fail } from "../../ir/diagnostics.js";
import type { Target } from "../../targets/target.js";
import type { SectionSpan } from "../schedule/sections.js";
import { arenaBytes, assignAddresses } from "./addresses.js";
import { hostReadbacks } from "../schedule/host-device.js";
import { ownValue } from "../../ir/name-record.js";

export interface Placement {
  readonly allocations: readonly Allocation[];
  readonly transfers: readonly Transfer[];
  /** Tier of every tensor that lives in memory (section-internal streams are absent). */
  readonly tierOf: ReadonlyMap<string, TierName>;
  readonly occupancy: Readonly<Record<TierName, number>>;
}

interface LiveRange {
  readonly tensor: DfTensor;
  readonly first: number;
  readonly last: number;
  /** Bytes read and written over the run. */
  readonly traffic: number;
}

const RESIDENT = new Set(["weight", "constant", "kv-cache"]);

export { viewAliases } from "../../ir/dataflow/dataflow.js";

export function liveRanges(m: DataflowModule, sections: readonly SectionSpan[]): { ranges: LiveRange[]; internal: Set<string> } {
  const aliases = viewAliases(m);
  const owner = (t: string) => aliases.get(t) ?? t;
  const sectionOf = new Map<string, number>();
  sections.forEach((s, i) => s.kernels.forEach((k) => sectionOf.set(k.name, i)));
  const first = new Map<string, number>(), last = new Map<string, number>(), traffic = new Map<string, number>();
  const touch = (tensor: string, section: number, bytes: number) => {
    const name = owner(tensor);
    first.set(name, Math.min(first.get(name) ?? section, section));
    last.set(name, Math.max(last.get(name) ?? section, section));
    traffic.set(name, (traffic.get(name) ?? 0) + bytes);
  };
  const tensors = tensorMap(m);
  for (const k of m.kernels) {
    const s = sectionOf.get(k.name)!;
    for (const i of k.inputs) touch(i, s, ownValue(k.reads, i) ?? 0);
    for (const o of k.outputs) touch(o, s, tensors.get(o)?.bytes ?? 0);
  }
  const lastSection = Math.max(0, sections.length - 1);
  const internal = new Set<string>();
  const ranges: LiveRange[] = [];
  const pasts = new Set(cachesOf(m).map((c) => c.past));
  for (const t of m.tensors) {
    // A view owns no bytes, nor does a KV cache's past (the front of its present).
    if (aliases.has(t.name) || pasts.has(t.name)) continue;
    if (!first.has(t.name) && !m.inputs.includes(t.name) && !m.outputs.includes(t.name)) continue;
    const io = m.inputs.includes(t.name) || m.outputs.includes(t.name);
    if (t.role === "activation" && !io && first.get(t.name) === last.get(t.name)) {
      internal.add(t.name);
      continue;
    }
    const resident = RESIDENT.has(t.role);
    ranges.push({
      tensor: t,
      first: resident || m.inputs.includes(t.name) ? 0 : first.get(t.name) ?? 0,
      last: resident || m.outputs.includes(t.name) ? lastSection : last.get(t.name) ?? lastSection,
      traffic: traffic.get(t.name) ?? t.bytes,
    });
  }
  return { ranges, internal };
}

function peakBytes(ranges: readonly LiveRange[], sections: number): number {
  const live = new Array<number>(Math.max(1, sections)).fill(0);
  for (const r of ranges) for (let s = r.first; s <= r.last; s++) live[s]! += r.tensor.bytes;
  return Math.max(0, ...live);
}

/** Every tensor must fit some tier whole (checked before any scheduling work). */
export function checkFitsSomewhere(m: DataflowModule, target: Target): void {
  for (const t of m.tensors) checkPossible(t, target);
}

function checkPossible(t: DfTensor, target: Target): void {
  if (t.bytes > target.hbm.bytes && t.bytes > target.ddr.bytes) {
    fail(`tensor '${t.name}' needs ${t.bytes} bytes, more than any tier holds (HBM ${target.hbm.bytes}, DDR ${target.ddr.bytes}, SRAM ${target.sram.units * target.sram.bytesPerUnit})`);
  }
}

export function placeTensors(m: DataflowModule, sections: readonly SectionSpan[], target: Target): Placement {
  const { ranges } = liveRanges(m, sections);
  for (const r of ranges) checkPossible(r.tensor, target);
  const n = sections.length;
  const hbm: LiveRange[] = [], ddr: LiveRange[] = [];
  for (const r of ranges) (r.tensor.bytes > target.hbm.bytes ? ddr : hbm).push(r);
  const need = (r: LiveRange) => r.traffic / (r.last - r.first + 1);
  const spillOrder = [...hbm].sort((a, b) =>
    need(a) - need(b) || Number(RESIDENT.has(a.tensor.role)) - Number(RESIDENT.has(b.tensor.role)) || a.tensor.name.localeCompare(b.tensor.name));
  const spillOne = () => {
    const victim = spillOrder.shift()!;
    hbm.splice(hbm.indexOf(victim), 1);
    ddr.push(victim);
  };
  const intervals = (list: readonly LiveRange[]) => list.map((r) => ({ name: r.tensor.name, bytes: r.tensor.bytes, first: r.first, last: r.last }));
  while (peakBytes(hbm, n) > target.hbm.bytes && spillOrder.length > 0) spillOne();
  // Fragmentation can make the arena larger than the peak of live bytes.
  while (arenaBytes(assignAddresses(intervals(hbm))) > target.hbm.bytes && spillOrder.length > 0) spillOne();
  // A large spill can leave room for small tensors spilled before it: bring back what fits, neediest first.
  for (const r of [...ddr].sort((a, b) => need(b) - need(a) || a.tensor.name.localeCompare(b.tensor.name))) {
    if (r.tensor.bytes > target.hbm.bytes) continue;
    hbm.push(r);
    if (peakBytes(hbm, n) <= target.hbm.bytes && arenaBytes(assignAddresses(intervals(hbm))) <= target.hbm.bytes) ddr.splice(ddr.indexOf(r), 1);
    else hbm.pop();
  }
  const ddrPeak = peakBytes(ddr, n);
  if (ddrPeak > target.ddr.bytes) {
    fail(`the model needs ${peakBytes(hbm, n) + ddrPeak} bytes of HBM and DDR at its peak; ${target.name} has HBM ${target.hbm.bytes} and DDR ${target.ddr.bytes}`);
  }
  const allocations: Allocation[] = [];
  const tierOf = new Map<string, TierName>();
  for (const [tier, list] of [["hbm", hbm], ["ddr", ddr]] as const) {
    for (const a of assignAddresses(intervals(list))) {
      allocations.push({ tensor: a.name, tier, offset: a.offset, bytes: a.bytes, firstSection: a.first, lastSection: a.last });
      tierOf.set(a.name, tier);
    }
  }
  // Stage buffers: each section's kernels share the whole SRAM, one section at a time.
  let sramPeak = 0;
  sections.forEach((s, i) => {
    let offset = 0;
    for (const k of s.kernels) {
      if (k.bufferBytes === 0) continue;
      allocations.push({ tensor: `${k.name}/buffers`, tier: "sram", offset, bytes: k.bufferBytes, firstSection: i, lastSection: i });
      offset += k.bufferBytes;
    }
    sramPeak = Math.max(sramPeak, offset);
  });
  const transfers: Transfer[] = [];
  for (const r of ranges) {
    const tier = tierOf.get(r.tensor.name)!;
    const seconds = (bw: number) => r.tensor.bytes / bw;
    if ((r.tensor.role === "weight" || r.tensor.role === "constant") && tier === "hbm") {
      // Weights stream from the model file into DDR on load, then DDR -> HBM.
      transfers.push({ tensor: r.tensor.name, from: "ddr", to: "hbm", bytes: r.tensor.bytes, beforeSection: -1, seconds: seconds(target.ddr.bandwidth) });
    } else if (r.tensor.role === "input") {
      transfers.push({ tensor: r.tensor.name, from: "host", to: tier, bytes: r.tensor.bytes, beforeSection: 0, seconds: seconds(target.host.bandwidth) });
    }
  }
  // Values host kernels compute with go back to the host before the section that reads them (host-device.ts).
  const sectionOf = new Map<string, number>();
  sections.forEach((span, i) => span.kernels.forEach((k) => sectionOf.set(k.name, i)));
  const readBack = new Set<string>();
  for (const { kernel, tensor } of hostReadbacks(m)) {
    const tier = tierOf.get(tensor), section = sectionOf.get(kernel.name);
    const t = m.tensors.find((x) => x.name === tensor);
    if (!tier || section === undefined || !t || readBack.has(`${tensor} ${section}`)) continue;
    readBack.add(`${tensor} ${section}`);
    transfers.push({ tensor, from: tier, to: "host", bytes: t.bytes, beforeSection: section, seconds: t.bytes / target.host.bandwidth });
  }
  for (const [view, root] of viewAliases(m)) {
    const tier = tierOf.get(root);
    if (tier) tierOf.set(view, tier);
  }
  allocations.sort((a, b) => (a.tier < b.tier ? -1 : a.tier > b.tier ? 1 : a.offset - b.offset || a.tensor.localeCompare(b.tensor)));
  return { allocations, transfers, tierOf, occupancy: { sram: sramPeak, hbm: peakBytes(hbm, n), ddr: ddrPeak } };
}
