// Kernel calls of a dataflow chip's sections, and the looped decoder.
//
// On SN40L a decoder layer is one kernel call (Prabhakar et al., MICRO 2024: a fused decoder
// layer uses about 90% of the PCUs and PMUs), and every call pays its argument load and a
// synchronisation at its boundary (Kernel Looping, arXiv 2410.23668: up to 2.2x of decode on one
// socket, 2.5x over several). A section whose kernels repeat one block L times (L decoder layers)
// is L calls of that block's program: the program loads once, each call loads its arguments and
// synchronises. Kernel looping turns consecutive calls of one program, within a section or across
// sections that repeat the one before, into a single call with a pipelined outer loop: one program
// load, one argument load, one synchronisation, and a pipeline that does not drain between layers.
//
// Algorithm: device kernels get an integer signature (kind, ops, FLOPs, streaming, tiling, buffer and
// the bytes of each operand: every layer of a decoder has the same sequence). A section's period is
// the smallest p (up to MAX_PERIOD kernels, a block holding a kernel with weights: a layer) at
// which at least half its kernels equal the kernel p later; its calls are the longest run of such
// matches over p, plus one. A section continues a loop
// when the kernels before it repeat its own.
// Source: the two papers above (which publish the effects, not an algorithm).
// Known weakness: a layer split over two sections, or a section holding a layer and a half, is
// not seen as a repeat; blocks longer than MAX_PERIOD kernels are not found.

import type { DataflowModule, DfKernel } from "../../ir/dataflow/dataflow.js";
import { KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import type { SectionSpan } from "../schedule/sections.js";

/** The longest repeated block looked for, in kernels (a decoder layer lowers to a few dozen). */
export const MAX_PERIOD = 512;

interface Signatures {
  readonly index: ReadonlyMap<string, number>;
  readonly ids: Int32Array;
  /** 1 where the kernel has weights of its own (KERNEL_KINDS' weighted kinds). */
  readonly weighted: Uint8Array;
}

const cache = new WeakMap<DataflowModule, Signatures>();
const isDevice = (k: DfKernel) => KERNEL_KINDS[k.kind]?.device ?? true;

function kernelKey(k: DfKernel): string {
  const reads = k.inputs.map((i) => k.reads[i] ?? 0).join(",");
  return [k.kind, k.ops.join("+"), k.flops, k.streaming, k.tiling.tiles, k.tiling.blocks, k.tiling.tileShape.join("x"), k.bufferBytes, reads, k.outputs.length].join("|");
}

/** Signatures of the module's device kernels, in order (host shape arithmetic and views do no work and are left out). */
function signatures(m: DataflowModule): Signatures {
  let s = cache.get(m);
  if (!s) {
    const device = m.kernels.filter(isDevice);
    const keys = new Map<string, number>();
    const ids = new Int32Array(device.length);
    const weighted = new Uint8Array(device.length);
    const index = new Map<string, number>();
    device.forEach((k, i) => {
      weighted[i] = KERNEL_KINDS[k.kind]?.weighted ? 1 : 0;
      const key = kernelKey(k);
      let id = keys.get(key);
      if (id === undefined) keys.set(key, (id = keys.size));
      ids[i] = id;
      index.set(k.name, i);
    });
    s = { index, ids, weighted };
    cache.set(m, s);
  }
  return s;
}

/** Calls a section makes of one block's program (1 unless its kernels repeat a block), and whether it repeats the section before it. */
export interface SectionCalls {
  readonly calls: number;
  /** The kernels just before the section are its own again: a looped decoder's earlier iteration. */
  readonly continuesLoop: boolean;
  /** The kernels just after the section are its own again. */
  readonly loopsOn: boolean;
}

export function sectionCalls(span: SectionSpan, m: DataflowModule): SectionCalls {
  const device = span.kernels.filter(isDevice);
  if (device.length === 0) return { calls: 1, continuesLoop: false, loopsOn: false };
  const { index, ids, weighted } = signatures(m);
  const first = index.get(device[0]!.name), last = index.get(device[device.length - 1]!.name);
  if (first === undefined || last === undefined) return { calls: 1, continuesLoop: false, loopsOn: false };
  const n = last - first + 1;
  const same = (a: number, b: number, length: number) => {
    if (a < 0 || b + length > ids.length) return false;
    for (let i = 0; i < length; i++) if (ids[a + i] !== ids[b + i]) return false;
    return true;
  };
  return { calls: repeats(ids, weighted, first, n), continuesLoop: same(first - n, first, n), loopsOn: same(first, first + n, n) };
}

/**
 * Repeats of the block the kernels [start, start + n) are made of: 1 plus the longest run of
 * matches at the period, over the period. A block is a layer: it holds a kernel with weights of
 * its own (a matrix product or convolution), so a chain of like pointwise kernels is one call.
 */
function repeats(ids: Int32Array, weighted: Uint8Array, start: number, n: number): number {
  let firstWeighted = -1;
  for (let i = start; i < start + n && firstWeighted < 0; i++) if (weighted[i]) firstWeighted = i - start;
  if (firstWeighted < 0) return 1;
  for (let p = Math.max(2, firstWeighted + 1); p <= Math.min(MAX_PERIOD, Math.floor(n / 2)); p++) {
    let matches = 0, run = 0, longest = 0;
    for (let i = start; i + p < start + n; i++) {
      if (ids[i] === ids[i + p]) {
        matches++;
        longest = Math.max(longest, ++run);
      } else run = 0;
    }
    if (matches * 2 >= n) return Math.max(1, Math.floor((longest + p) / p));
  }
  return 1;
}
