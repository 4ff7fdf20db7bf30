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

/**
 * Compute units of each device kernel: one each, then the rest by FLOP share,
 * floors first and the units left over to the largest fractional parts (ties
 * to the earlier kernel). The leftover is less than the kernel count, so it is
 * the `free` largest remainders: found by selection, not a sort, since the
 * sectioning weighs every candidate section with this.
 */
function computeUnitsOf(device: readonly DfKernel[], target: Target): Int32Array {
  const work = new WorkArrays(device.length);
  let totalFlops = 0;
  device.forEach((k, i) => {
    work.flops[i] = k.flops;
    totalFlops += k.flops;
  });
  return unitsByShare(work, device.length, totalFlops, target);
}

/** computeUnitsOf over the first `n` FLOP counts in `work.flops`, whose sum (in order) is `totalFlops`. */
function unitsByShare(work: WorkArrays, n: number, totalFlops: number, target: Target): Int32Array {
  const units = work.units, remainders = work.remainders, flops = work.flops;
  let free = target.compute.units - n;
  const spread = free;
  for (let i = 0; i < n; i++) {
    const share = totalFlops > 0 ? (spread * flops[i]!) / totalFlops : spread / Math.max(1, n);
    const whole = Math.floor(share);
    units[i] = 1 + whole;
    remainders[i] = share % 1;
    free -= whole;
  }
  if (free <= 0 || n === 0) return units;
  // The free-th largest remainder; those above it get a unit, then those equal to it in kernel order.
  work.select.set(remainders.subarray(0, n));
  const threshold = kthLargest(work.select, n, Math.min(free, n));
  for (let i = 0; i < n && free > 0; i++) if (remainders[i]! > threshold) { units[i]! += 1; free--; }
  for (let i = 0; i < n && free > 0; i++) if (remainders[i] === threshold) { units[i]! += 1; free--; }
  // More units than kernels' shares account for (no FLOPs anywhere): round-robin, as before.
  for (let i = 0; free > 0; i = (i + 1) % n, free--) units[i]! += 1;
  return units;
}

/** Per-kernel numbers of unitsByShare and GrowingSection, kept across calls (the sectioning makes hundreds of thousands). */
class WorkArrays {
  flops: Float64Array;
  units: Int32Array;
  remainders: Float64Array;
  select: Float64Array;
  /** Per stage: FLOPs per second of one compute unit, tiles and blocks (GrowingSection). */
  rate: Float64Array;
  tiles: Float64Array;
  blocks: Float64Array;
  constructor(n: number) {
    [this.flops, this.units, this.remainders, this.select] = [new Float64Array(n), new Int32Array(n), new Float64Array(n), new Float64Array(n)];
    [this.rate, this.tiles, this.blocks] = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  }

  /** Room for `n` kernels, keeping the first `keep` of each array. */
  fit(n: number, keep: number): void {
    if (this.units.length >= n) return;
    const grown = new WorkArrays(Math.max(n, 2 * this.units.length));
    for (const key of ["flops", "units", "remainders", "select", "rate", "tiles", "blocks"] as const) grown[key].set(this[key].subarray(0, keep));
    Object.assign(this, grown);
  }
}

/** The k-th largest of the first `n` values (1-based), by quickselect; reorders them. */
function kthLargest(values: Float64Array, n: number, k: number): number {
  let lo = 0, hi = n - 1;
  const want = k - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1]!;
    let i = lo, j = hi;
    while (i <= j) {
      while (values[i]! > pivot) i++;
      while (values[j]! < pivot) j--;
      if (i <= j) {
        const t = values[i]!; values[i] = values[j]!; values[j] = t;
        i++; j--;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return values[want]!;
  }
  return values[want]!;
}

const isStage = (k: DfKernel) => (KERNEL_KINDS[k.kind]?.device ?? true) && k.kind !== "collective";

/** Per-stage seconds of a section's device kernels, given their units. */
function stageSeconds(device: readonly DfKernel[], units: Int32Array, target: Target): number[] {
  const perUnit = (k: DfKernel) => peakFlops(target, k.dtype) / target.compute.units;
  return device.map((k, i) => k.flops / (units[i]! * perUnit(k)));
}

/**
 * A section's pipeline time alone: the same arithmetic as allocateSection's
 * computeSeconds, in the same order, over numbers gathered once per kernel.
 */
export function sectionComputeSeconds(kernels: readonly DfKernel[], target: Target): number {
  const section = new GrowingSection(target);
  for (const k of kernels) section.add(k);
  return section.seconds();
}

/**
 * sectionComputeSeconds of a section that grows a kernel at a time, and of it
 * with one more kernel, without gathering its kernels' numbers again: the
 * sectioning weighs every kernel's joining the open section.
 */
export class GrowingSection {
  private readonly work = new WorkArrays(64);
  private n = 0;
  /** The stages' FLOPs summed in order, as computeUnitsOf sums them. */
  private totalFlops = 0;
  /** What bounds the section's seconds from above (secondsAtMost), every stage on one compute unit: its slowest stage, the sum and maximum of the stages' time per tile, and the most tiles. */
  private slowestAlone = 0;
  private perTileSum = 0;
  private perTileMax = 0;
  private mostTiles = 1;

  constructor(private readonly target: Target) {}

  /** The section is empty again. */
  clear(): void {
    this.n = 0;
    this.totalFlops = 0;
    this.slowestAlone = 0;
    this.perTileSum = 0;
    this.perTileMax = 0;
    this.mostTiles = 1;
  }

  /** `k` joins the section (only pipeline stages count). */
  add(k: DfKernel): void {
    if (!isStage(k)) return;
    this.put(k, this.n);
    this.n += 1;
    this.totalFlops += k.flops;
    const alone = this.secondsOnOneUnit(k), perTile = alone / Math.max(1, k.tiling.tiles);
    this.slowestAlone = Math.max(this.slowestAlone, alone);
    this.perTileSum += perTile;
    this.perTileMax = Math.max(this.perTileMax, perTile);
    this.mostTiles = Math.max(this.mostTiles, k.tiling.tiles);
  }

  /**
   * An upper bound, in exact arithmetic, of secondsWith(k) while the section
   * with `k` has no more stages than the chip has compute units (so every
   * stage gets at least one): each stage's time on one unit bounds its time
   * on its share, and so the slowest stage, the fill and the initiation
   * interval. It costs nothing to keep as the section grows.
   */
  secondsAtMost(k: DfKernel): number {
    if (!isStage(k)) return Math.max(this.slowestAlone, this.perTileSum + (this.mostTiles - 1) * this.perTileMax);
    const alone = this.secondsOnOneUnit(k), perTile = alone / Math.max(1, k.tiling.tiles);
    const perTileMax = Math.max(this.perTileMax, perTile), mostTiles = Math.max(this.mostTiles, k.tiling.tiles);
    return Math.max(this.slowestAlone, alone, this.perTileSum + perTile + (mostTiles - 1) * perTileMax);
  }

  /** NaN where the figures are not ones the bound holds for (negative): no bound then, for the whole section. */
  private secondsOnOneUnit(k: DfKernel): number {
    const seconds = k.flops / (peakFlops(this.target, k.dtype) / this.target.compute.units);
    return seconds >= 0 ? seconds : NaN;
  }

  seconds(): number {
    return this.evaluate(this.n, this.totalFlops);
  }

  /** The seconds of the section with `k` joined, leaving the section as it is. */
  secondsWith(k: DfKernel): number {
    if (!isStage(k)) return this.seconds();
    this.put(k, this.n);
    return this.evaluate(this.n + 1, this.totalFlops + k.flops);
  }

  private put(k: DfKernel, i: number): void {
    this.work.fit(i + 1, i);
    const w = this.work;
    w.flops[i] = k.flops;
    w.rate[i] = peakFlops(this.target, k.dtype) / this.target.compute.units;
    w.tiles[i] = k.tiling.tiles;
    w.blocks[i] = k.tiling.blocks;
  }

  private evaluate(n: number, totalFlops: number): number {
    if (n === 0) return 0;
    const w = this.work;
    const units = unitsByShare(w, n, totalFlops, this.target);
    let slowestSeconds = 0, ii = -Infinity, slowest = 0, tiles = 1;
    // The remainders are spent once units are handed out: their array holds each stage's first block.
    const firstBlock = w.remainders;
    for (let i = 0; i < n; i++) {
      const seconds = w.flops[i]! / (units[i]! * w.rate[i]!);
      const perTile = seconds / Math.max(1, w.tiles[i]!);
      firstBlock[i] = perTile / Math.max(1, w.blocks[i]!);
      if (seconds > slowestSeconds) slowestSeconds = seconds;
      if (perTile > ii) { ii = perTile; slowest = i; }
      tiles = Math.max(tiles, w.tiles[i]!);
    }
    let fill = ii;
    for (let i = 0; i < n; i++) if (i !== slowest) fill += firstBlock[i]!;
    return Math.max(slowestSeconds, fill + (tiles - 1) * ii);
  }
}

export function allocateSection(kernels: readonly DfKernel[], target: Target): SectionAllocation {
  // Collectives (node-level plans) run on the chip's links, not its compute
  // units: they hold stream buffers but are no pipeline stage; the cost model
  // charges them as link time.
  const links = kernels.filter((k) => k.kind === "collective");
  const device = kernels.filter(isStage);
  const unitCounts = computeUnitsOf(device, target);
  const order = new Map(device.map((k, i) => [k, i]));
  const seconds = stageSeconds(device, unitCounts, target);
  const slowest = Math.max(0, ...seconds);
  const perTile = device.map((k, i) => seconds[i]! / Math.max(1, k.tiling.tiles));
  const memoryUnits = [...device, ...links].reduce((s, k) => s + memoryUnitsFor(k, target), 0);
  const linkSet = new Set(links);
  const allocations: KernelAllocation[] = kernels.map((k) => {
    const i = order.get(k) ?? -1;
    if (i < 0) return { kernel: k.name, computeUnits: 0, memoryUnits: linkSet.has(k) ? memoryUnitsFor(k, target) : 0, utilisation: 0, seconds: 0 };
    return {
      kernel: k.name, computeUnits: unitCounts[i]!, memoryUnits: memoryUnitsFor(k, target),
      utilisation: slowest > 0 ? seconds[i]! / slowest : 1, seconds: seconds[i]!,
    };
  });
  return {
    kernels: allocations,
    computeUnits: unitCounts.reduce((s, u) => s + u, 0),
    memoryUnits,
    initiationInterval: Math.max(0, ...perTile),
    computeSeconds: pipelineSeconds(device, seconds),
  };
}
