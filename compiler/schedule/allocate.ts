// Resource allocation inside a section: give each kernel compute units in
// proportion to its FLOPs and memory units in proportion to its buffers, so the
// pipeline is balanced (its slowest stage sets the rate).
//
// Algorithm: every device kernel gets its minimum (one compute unit, the memory
// units its buffers need); the remaining compute units are handed out by
// largest remainder of the FLOP shares. On kernel-by-kernel targets the one
// kernel of a section gets the whole chip.
// Source: SN40L (MICRO 2024), section V: "heavier operators get more PCUs".
// Known weakness: FLOPs stand in for work; stages limited by memory or by
// on-chip bandwidth are not given more units. The pipeline is treated as a
// chain (every stage on the first tile's path), which overstates the fill of
// parallel branches.

import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import { KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import type { KernelAllocation } from "../../ir/placement/plan.js";
import type { Target } from "../../targets/target.js";
import { peakFlops } from "../../targets/target.js";
import { memoryUnitsFor } from "./sections.js";

export interface SectionAllocation {
  readonly kernels: readonly KernelAllocation[];
  readonly computeUnits: number;
  readonly memoryUnits: number;
  readonly initiationInterval: number;
  /** Pipeline time: the slowest stage plus the fill of one tile through every stage. */
  readonly computeSeconds: number;
}

/**
 * A pipeline streaming `tiles` tiles through a chain of stages takes the fill
 * of the first tile plus one initiation interval (its slowest stage's time per
 * tile) for each further tile, and is never faster than its slowest stage
 * working alone. The first tile reaches stage i+1 once stage i has emitted its
 * first block (a matrix product streaming its weights in column blocks hands
 * on each block of output columns, and the next product accumulates over
 * them), so the fill is the sum over stages of time per tile / blocks, with the
 * slowest stage counted whole. With one block per stage and equal stages this
 * is the textbook (tiles + depth - 1) intervals.
 */
export function pipelineSeconds(stages: readonly DfKernel[], seconds: readonly number[]): number {
  if (stages.length === 0) return 0;
  const perTile = stages.map((k, i) => seconds[i]! / Math.max(1, k.tiling.tiles));
  const firstBlock = stages.map((k, i) => perTile[i]! / Math.max(1, k.tiling.blocks));
  const slowest = perTile.indexOf(Math.max(...perTile));
  const ii = perTile[slowest]!;
  const fill = firstBlock.reduce((s, x, i) => (i === slowest ? s : s + x), ii);
  const tiles = Math.max(...stages.map((k) => Math.max(1, k.tiling.tiles)));
  return Math.max(Math.max(...seconds), fill + (tiles - 1) * ii);
}

export function allocateSection(kernels: readonly DfKernel[], target: Target): SectionAllocation {
  // Collectives (node-level plans) run on the chip's links, not its compute
  // units: they hold stream buffers but are no pipeline stage; the cost model
  // charges them as link time.
  const links = kernels.filter((k) => k.kind === "collective");
  const device = kernels.filter((k) => (KERNEL_KINDS[k.kind]?.device ?? true) && k.kind !== "collective");
  const units = new Map<DfKernel, number>();
  const totalFlops = device.reduce((s, k) => s + k.flops, 0);
  let free = target.compute.units - device.length;
  const shares = device.map((k) => ({ k, share: totalFlops > 0 ? (free * k.flops) / totalFlops : free / Math.max(1, device.length) }));
  for (const { k, share } of shares) units.set(k, 1 + Math.floor(share));
  free -= shares.reduce((s, x) => s + Math.floor(x.share), 0);
  const order = new Map(device.map((k, i) => [k, i]));
  const byRemainder = [...shares].sort((a, b) => (b.share % 1) - (a.share % 1) || order.get(a.k)! - order.get(b.k)!);
  for (let i = 0; free > 0 && byRemainder.length > 0; i = (i + 1) % byRemainder.length, free--) {
    const k = byRemainder[i]!.k;
    units.set(k, units.get(k)! + 1);
  }
  const perUnit = (k: DfKernel) => peakFlops(target, k.dtype) / target.compute.units;
  const seconds = device.map((k) => k.flops / (units.get(k)! * perUnit(k)));
  const slowest = Math.max(0, ...seconds);
  const perTile = device.map((k, i) => seconds[i]! / Math.max(1, k.tiling.tiles));
  const memoryUnits = [...device, ...links].reduce((s, k) => s + memoryUnitsFor(k, target), 0);
  const linkSet = new Set(links);
  const allocations: KernelAllocation[] = kernels.map((k) => {
    const i = order.get(k) ?? -1;
    if (i < 0) return { kernel: k.name, computeUnits: 0, memoryUnits: linkSet.has(k) ? memoryUnitsFor(k, target) : 0, utilisation: 0, seconds: 0 };
    return {
      kernel: k.name, computeUnits: units.get(k)!, memoryUnits: memoryUnitsFor(k, target),
      utilisation: slowest > 0 ? seconds[i]! / slowest : 1, seconds: seconds[i]!,
    };
  });
  return {
    kernels: allocations,
    computeUnits: device.reduce((s, k) => s + units.get(k)!, 0),
    memoryUnits,
    initiationInterval: Math.max(0, ...perTile),
    computeSeconds: pipelineSeconds(device, seconds),
  };
}
