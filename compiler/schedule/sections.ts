// Partition a dataflow module's kernels into sections.
//
// Algorithm: greedy in execution order. A kernel's minimum footprint is one
// compute unit and enough memory units for its stream buffers; a kernel joins
// the open section while the section's footprint fits the chip and the
// estimated time of the merged section does not exceed that of the two apart
// (a deeper pipeline fills more slowly and shares the units among more
// stages; a separate section pays its switch and a trip through memory).
// Otherwise a new section opens. At -O0 and -O1, and on kernel-by-kernel targets (GPUs), every device
// kernel is a section of its own: the unfused and conventionally-fused baselines. A host kernel
// that computes with a value the open section makes starts a new section, since the value can
// only be read back once the section that writes it has finished (host-device.ts).
// Source: the sectioning of Prabhakar et al., SN40L (MICRO 2024), section V.
// Known weakness: program order only; it neither reorders kernels nor balances
// section sizes, so a large kernel late in a section can leave units idle.

import type { DataflowModule, DfKernel } from "../../ir/dataflow/dataflow.js";
import { KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import { fail } from "../../ir/diagnostics.js";
import { hostReadbacks } from "./host-device.js";
import type { Target } from "../../targets/target.js";

export type OptLevel = 0 | 1 | 2;

export interface SectionSpan {
  readonly kernels: readonly DfKernel[];
}

export function memoryUnitsFor(k: DfKernel, target: Target): number {
  return Math.max(1, Math.ceil(k.bufferBytes / target.sram.bytesPerUnit));
}

function isDevice(k: DfKernel): boolean {
  return KERNEL_KINDS[k.kind]?.device ?? true;
}

/**
 * Estimated seconds of candidate sections (see estimate.ts) as the open section
 * grows a kernel at a time, given the bytes their kernels read from outside
 * them, which the partition keeps as sections grow.
 */
export interface SectionEstimate {
  /** The open section has no kernels again. */
  clear(): void;
  /** `k` joins the open section. */
  add(k: DfKernel): void;
  /** The open section. */
  open(externalBytes: number): number;
  /** The open section with `k` joined (the open section stays as it is). */
  withKernel(k: DfKernel, externalBytes: number): number;
  /** `k` alone. */
  alone(k: DfKernel, externalBytes: number): number;
  /** A bound withKernel(k, externalBytes) never exceeds (in exact arithmetic) while `k` fits the chip, found without weighing the section's stages. */
  withKernelAtMost?(k: DfKernel, externalBytes: number): number;
  /** A bound open(externalBytes) is never below (in exact arithmetic). */
  openAtLeast?(externalBytes: number): number;
}

/** Relative room a bound leaves for the rounding of the estimates it stands in for (far more than they accumulate). */
const BOUND_MARGIN = 1e-6;

/**
 * Whether `k`, which fits the chip beside the open section, surely joins it: the
 * merged estimate's upper bound is within the open one (or its lower bound) plus
 * `k` alone, so weighing the estimates exactly would decide the same.
 */
function surelyJoins(estimate: SectionEstimate, k: DfKernel, external: number, open: number | undefined, openExternal: number, alone: number): boolean {
  if (!estimate.withKernelAtMost || !estimate.openAtLeast) return false;
  const merged = estimate.withKernelAtMost(k, external);
  return merged * (1 + BOUND_MARGIN) <= ((open ?? estimate.openAtLeast(openExternal)) + alone) * (1 - BOUND_MARGIN);
}

const NOTHING: ReadonlySet<string> = new Set();

/** Bytes `k` reads from outside a section that produced `produced` before it. */
function readsFromOutside(k: DfKernel, produced: ReadonlySet<string>): number {
  let bytes = 0;
  for (const [t, b] of Object.entries(k.reads)) if (!produced.has(t) && !k.outputs.includes(t)) bytes += b;
  return bytes;
}

export function partitionSections(m: DataflowModule, target: Target, opt: OptLevel, estimate?: SectionEstimate): SectionSpan[] {
  const streaming = opt === 2 && target.execution === "dataflow";
  const sections: DfKernel[][] = [];
  let open: DfKernel[] = [];
  let openDevice: DfKernel[] = [];
  // The estimate of the open section's device kernels, known once a merge was weighed (it is the merged one).
  let openEstimate: number | undefined;
  // What the open section's device kernels produce and read from outside them (kernels come in execution order).
  let openProduced = new Set<string>();
  let openExternal = 0;
  let compute = 0, memory = 0;
  // A host kernel that computes with a device value reads it back after the section that made it ends.
  const readsBack = new Map<DfKernel, Set<string>>();
  for (const { kernel, tensor } of hostReadbacks(m)) (readsBack.get(kernel) ?? readsBack.set(kernel, new Set()).get(kernel)!).add(tensor);
  const makes = (group: readonly DfKernel[], host: readonly DfKernel[]) =>
    host.some((h) => [...(readsBack.get(h) ?? [])].some((t) => group.some((k) => k.outputs.includes(t))));
  const close = () => {
    const last = sections[sections.length - 1];
    if (open.some(isDevice)) sections.push(open);
    else if (open.length > 0 && last && !makes(last, open)) last.push(...open);
    else if (open.length > 0) sections.push(open);
    open = [];
    openDevice = [];
    estimate?.clear();
    openEstimate = undefined;
    openProduced = new Set();
    openExternal = 0;
    compute = 0;
    memory = 0;
  };
  for (const k of m.kernels) {
    if (!isDevice(k)) {
      if (openDevice.length > 0 && makes(open, [k])) close();
      open.push(k); // views and shape arithmetic ride along with their neighbours
      continue;
    }
    const mem = memoryUnitsFor(k, target);
    if (mem > target.sram.units) {
      fail(`kernel ${k.name} (${k.ops.join(", ")}) needs ${k.bufferBytes} bytes of on-chip buffers; ${target.name} has ${target.sram.units * target.sram.bytesPerUnit}`, { node: k.nodes[0] ?? k.name });
    }
    const fits = compute + 1 <= target.compute.units && memory + mem <= target.sram.units;
    let merged: number | undefined;
    const worthIt = () => {
      if (!estimate) return true;
      const external = openExternal + readsFromOutside(k, openProduced);
      const alone = estimate.alone(k, readsFromOutside(k, NOTHING));
      // Settled by the bound, the merged estimate stays unknown (undefined) until a later kernel needs it.
      if (surelyJoins(estimate, k, external, openEstimate, openExternal, alone)) return true;
      merged = estimate.withKernel(k, external);
      openEstimate ??= estimate.open(openExternal);
      return merged <= openEstimate + alone;
    };
    if (openDevice.length > 0 && (!streaming || !fits || !worthIt())) close();
    else openEstimate = merged;
    open.push(k);
    openDevice.push(k);
    estimate?.add(k);
    openExternal += readsFromOutside(k, openProduced);
    for (const t of k.outputs) openProduced.add(t);
    compute += 1;
    memory += mem;
  }
  close();
  return sections.map((kernels) => ({ kernels }));
}
