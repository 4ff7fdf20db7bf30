// Rotary position embedding in its rotate-half form, as Llama-family exports
// write it: x * cos + concat(-x2, x1) * sin, x1 and x2 the halves of the last
// axis. The reference backend's rotary fusion (targets/reference/fusions.ts)
// runs it as one loop over x instead of seven nodes (two Slices, Neg, Concat,
// two Muls and an Add, each a pass over a tensor of x's size). Each element gets
// exactly its nodes' float32 roundings: the two products, then their sum. Rows
// of a multiple of 8 run as WebAssembly SIMD (rotary-wasm.ts), others in JavaScript.

import type { Tensor } from "../../../ir/tensor.js";
import { allocateOverwritten } from "./buffers.js";
import { broadcastsTo } from "./common.js";
import { batchOffsets, contiguousStrides } from "./strided.js";
import { rotaryF32 } from "./simd.js";

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The result, or undefined where this form does not apply (not float32, an odd last axis, cos and sin of other shapes). */
export function rotateHalf(x: Tensor, cos: Tensor, sin: Tensor): Tensor | undefined {
  const rank = x.dims.length, d = x.dims[rank - 1] ?? 0, half = d / 2;
  if (x.dtype !== "f32" || cos.dtype !== "f32" || sin.dtype !== "f32" || rank === 0 || d % 2 !== 0 || d === 0) return undefined;
  if (!sameDims(cos.dims, sin.dims) || cos.dims[cos.dims.length - 1] !== d || !broadcastsTo(cos.dims, x.dims)) return undefined;
  const out = allocateOverwritten("f32", x.dims);
  const xs = x.data as Float32Array, cs = cos.data as Float32Array, ss = sin.data as Float32Array, os = out.data as Float32Array;
  // Per row of x (all axes but the last), where its row of cos and sin starts.
  const rows = batchOffsets(x.dims.slice(0, -1), cos.dims.slice(0, -1), contiguousStrides(cos.dims).slice(0, -1));
  if (rotaryF32(xs, cs, ss, rows, d, os)) return out;
  const fround = Math.fround;
  for (let r = 0, xo = 0; r < rows.length; r++, xo += d) {
    const co = rows[r]!;
    for (let j = 0; j < half; j++) {
      os[xo + j] = fround(xs[xo + j]! * cs[co + j]!) + fround(-xs[xo + half + j]! * ss[co + j]!);
      os[xo + half + j] = fround(xs[xo + half + j]! * cs[co + half + j]!) + fround(xs[xo + j]! * ss[co + half + j]!);
    }
  }
  return out;
}
