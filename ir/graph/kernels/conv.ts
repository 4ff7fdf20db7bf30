// Conv over N-D spatial inputs, as im2col + the packed GEMM of matmul.ts:
// per (image, group), W_g [M/g, C/g * K] times the column matrix [C/g * K, out].
// A 1x1 kernel with unit stride and no padding multiplies X directly.

import type { Attrs } from "../graph.js";
import { fail } from "../../diagnostics.js";
import type { Tensor } from "../../tensor.js";
import { makeTensor } from "../../tensor.js";
import { intAttr, intsAttr, FLOATS } from "../ops/util.js";
import { requireFloat, roundToDType, sizeOf } from "./common.js";
import { gemmFloat } from "./matmul.js";
import type { MatView } from "./matmul.js";
import { inputCoords, windowGeometry } from "./window.js";
import type { WindowAxis } from "./window.js";

/** Write the column matrix of one group of one image: row (c, kernel offset), column output position. */
function im2col(x: Float32Array, xBase: number, channels: number, geo: readonly WindowAxis[], col: Float64Array): void {
  const rank = geo.length;
  const coords = geo.map(inputCoords);
  const outDims = geo.map((g) => g.out), kDims = geo.map((g) => g.kernel);
  const planeIn = sizeOf(geo.map((g) => g.size)), planeOut = sizeOf(outDims), kp = sizeOf(kDims);
  const inStrides = geo.map((_, i) => sizeOf(geo.map((g) => g.size), i + 1));
  const last = rank - 1, lastOut = outDims[last]!, lastCoords = coords[last]!;
  if (planeOut === 0) return;
  const outer = planeOut / lastOut, stride = geo[last]!.stride;
  const firstIn = new Int32Array(kDims[last]!), endIn = new Int32Array(kDims[last]!);
  for (let j = 0; j < kDims[last]!; j++) {
    let o = 0;
    while (o < lastOut && lastCoords[j * lastOut + o]! < 0) o++;
    firstIn[j] = o;
    while (o < lastOut && lastCoords[j * lastOut + o]! >= 0) o++;
    endIn[j] = o;
  }
  const kIdx = new Array<number>(rank).fill(0), oIdx = new Array<number>(rank).fill(0);
  for (let c = 0; c < channels; c++) {
    const cBase = xBase + c * planeIn;
    for (let kf = 0; kf < kp; kf++) {
      for (let a = last, r = kf; a >= 0; a--) { kIdx[a] = r % kDims[a]!; r = Math.floor(r / kDims[a]!); }
      const rowBase = (c * kp + kf) * planeOut, lastK = kIdx[last]! * lastOut;
      for (let of = 0; of < outer; of++) {
        for (let a = last - 1, r = of; a >= 0; a--) { oIdx[a] = r % outDims[a]!; r = Math.floor(r / outDims[a]!); }
        let off = cBase, valid = true;
        for (let a = 0; a < last && valid; a++) {
          const ci = coords[a]![kIdx[a]! * outDims[a]! + oIdx[a]!]!;
          valid = ci >= 0;
          off += ci * inStrides[a]!;
        }
        const dst = rowBase + of * lastOut, lo = firstIn[kIdx[last]!]!, hi = endIn[kIdx[last]!]!;
        if (!valid || lo >= hi) {
          for (let o = 0; o < lastOut; o++) col[dst + o] = 0;
          continue;
        }
        // In-bounds outputs along the last axis form one run [lo, hi); pad zeros either side.
        for (let o = 0; o < lo; o++) col[dst + o] = 0;
        for (let o = lo, src = off + lastCoords[lastK + lo]!; o < hi; o++, src += stride) col[dst + o] = x[src]!;
        for (let o = hi; o < lastOut; o++) col[dst + o] = 0;
      }
    }
  }
}

export function convKernel(x: Tensor, w: Tensor, bias: Tensor | undefined, attrs: Attrs): Tensor {
  requireFloat(x, FLOATS, "Conv X");
  if (w.dtype !== x.dtype || (bias && bias.dtype !== x.dtype)) fail("Conv inputs must share one dtype");
  const rank = x.dims.length;
  if (rank < 3 || w.dims.length !== rank) fail(`Conv X rank ${rank} and W rank ${w.dims.length} do not match`);
  const group = intAttr(attrs, "group", 1);
  const [batch, channels] = [x.dims[0]!, x.dims[1]!], [m, cg] = [w.dims[0]!, w.dims[1]!];
  if (group < 1 || channels !== cg * group || m % group !== 0) {
    fail(`Conv input has ${channels} channels and W [${w.dims.join(", ")}] with ${group} groups`);
  }
  const kernel = w.dims.slice(2);
  const kAttr = intsAttr(attrs, "kernel_shape");
  if (kAttr && kAttr.join() !== kernel.join()) fail(`Conv kernel_shape [${kAttr.join(", ")}] does not match W`);
  if (bias && (bias.dims.length !== 1 || bias.dims[0] !== m)) fail(`Conv bias must have shape [${m}]`);
  const geo = windowGeometry("Conv", x.dims.slice(2), kernel, attrs, false);
  const out = makeTensor(x.dtype, [batch, m, ...geo.map((g) => g.out)]);
  const planeIn = sizeOf(x.dims, 2), planeOut = sizeOf(out.dims, 2), kp = sizeOf(kernel), mg = m / group;
  const depth = cg * kp;
  const pointwise = geo.every((g) => g.kernel === 1 && g.stride === 1 && g.padBegin === 0 && g.padEnd === 0);
  const col = pointwise ? undefined : new Float64Array(depth * planeOut);
  const xd = x.data as Float32Array, od = out.data as Float32Array, bd = bias?.data as Float32Array | undefined;
  for (let n = 0; n < batch; n++) {
    for (let g = 0; g < group; g++) {
      const xBase = (n * channels + g * cg) * planeIn;
      if (col) im2col(xd, xBase, cg, geo, col);
      const cols: MatView = col
        ? { data: col, offset: 0, rowStride: planeOut, colStride: 1 }
        : { data: xd, offset: xBase, rowStride: planeIn, colStride: 1 };
      const weights: MatView = { data: w.data, offset: g * mg * depth, rowStride: depth, colStride: 1 };
      const prod = gemmFloat(mg, planeOut, depth, weights, cols);
      for (let r = 0; r < mg; r++) {
        const b = bd ? bd[g * mg + r]! : 0, dst = (n * m + g * mg + r) * planeOut;
        for (let o = 0; o < planeOut; o++) od[dst + o] = prod[r * planeOut + o]! + b;
      }
    }
  }
  return roundToDType(out);
}
