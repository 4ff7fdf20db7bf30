// MaxPool, AveragePool and GlobalAveragePool over N-D spatial inputs. Each
// window is the product of per-axis ranges, so in-bounds counts (for the
// average's divisor) are products of per-axis counts.

import type { Attrs } from "../../../ir/graph/graph.js";
import { fail } from "../../../ir/diagnostics.js";
import type { DType } from "../../../ir/dtype.js";
import type { Tensor } from "../../../ir/tensor.js";
import { makeTensor } from "../../../ir/tensor.js";
import { FLOATS, intAttr, intsAttr } from "../../../ir/graph/ops/util.js";
import { requireFloat, roundToDType, sizeOf } from "./common.js";
import { inputCoords, windowGeometry } from "./window.js";
import type { WindowAxis } from "./window.js";

const MAXPOOL_DTYPES: readonly DType[] = [...FLOATS, "i8", "u8"];

/** Kernel positions of axis `w` at output o that land in [0, size) and in [-padBegin, size + padEnd). */
function axisCounts(w: WindowAxis): { inside: Int32Array; padded: Int32Array } {
  const inside = new Int32Array(w.out), padded = new Int32Array(w.out);
  for (let o = 0; o < w.out; o++) {
    for (let j = 0; j < w.kernel; j++) {
      const x = o * w.stride - w.padBegin + j * w.dilation;
      if (x >= 0 && x < w.size) inside[o]!++;
      if (x < w.size + w.padEnd) padded[o]!++;
    }
  }
  return { inside, padded };
}

/**
 * MaxPool (values and optional int64 indices into the flattened input; storage_order 1 numbers
 * spatial positions column-major) or AveragePool. NaN in a window propagates to the max.
 * A window that covers only padding is refused rather than given a made-up value.
 */
export function poolKernel(op: "MaxPool" | "AveragePool", x: Tensor, attrs: Attrs, outputCount: number): Tensor[] {
  requireFloat(x, op === "MaxPool" ? MAXPOOL_DTYPES : FLOATS, `${op} X`);
  const rank = x.dims.length;
  if (rank < 3) fail(`${op} needs rank >= 3, got ${rank}`);
  const kernel = intsAttr(attrs, "kernel_shape");
  if (!kernel) fail(`${op} needs kernel_shape`);
  const storageOrder = intAttr(attrs, "storage_order", 0);
  if (storageOrder !== 0 && storageOrder !== 1) fail(`${op} storage_order must be 0 or 1, got ${storageOrder}`);
  if (op === "AveragePool" && outputCount > 1) fail("AveragePool has one output");
  const geo = windowGeometry(op, x.dims.slice(2), kernel, attrs, true);
  const outDims = [x.dims[0]!, x.dims[1]!, ...geo.map((g) => g.out)];
  const out = makeTensor(x.dtype, outDims);
  const indices = outputCount > 1 ? makeTensor("i64", outDims) : undefined;
  const coords = geo.map(inputCoords), counts = geo.map(axisCounts);
  const spatial = geo.map((g) => g.size), outs = geo.map((g) => g.out), ks = geo.map((g) => g.kernel);
  const rowStrides = spatial.map((_, a) => sizeOf(spatial, a + 1)), colStrides = spatial.map((_, a) => sizeOf(spatial, 0, a));
  const planes = x.dims[0]! * x.dims[1]!, planeIn = sizeOf(spatial), planeOut = sizeOf(outs), kp = sizeOf(ks);
  const includePad = intAttr(attrs, "count_include_pad", 0) === 1;
  const xd = x.data as Float32Array, od = out.data as Float32Array, id = indices?.data as BigInt64Array | undefined;
  const oIdx = new Array<number>(rank - 2).fill(0), kIdx = new Array<number>(rank - 2).fill(0);
  for (let of = 0; of < planeOut; of++) {
    for (let a = rank - 3, r = of; a >= 0; a--) { oIdx[a] = r % outs[a]!; r = Math.floor(r / outs[a]!); }
    let divisor = 1, inside = 1;
    for (let a = 0; a < rank - 2; a++) {
      divisor *= (includePad ? counts[a]!.padded : counts[a]!.inside)[oIdx[a]!]!;
      inside *= counts[a]!.inside[oIdx[a]!]!;
    }
    if (inside === 0 && planes > 0) fail(`${op} window at output position [${oIdx.join(", ")}] covers only padding`);
    for (let p = 0; p < planes; p++) {
      const base = p * planeIn;
      let best = -Infinity, bestAt = -1, sum = 0;
      kIdx.fill(0);
      for (let kf = 0; kf < kp; kf++) {
        if (kf > 0) for (let a = rank - 3; a >= 0 && ++kIdx[a]! === ks[a]!; a--) kIdx[a] = 0;
        let off = 0, colOff = 0, valid = true;
        for (let a = 0; a < rank - 2; a++) {
          const ci = coords[a]![kIdx[a]! * outs[a]! + oIdx[a]!]!;
          if (ci < 0) { valid = false; break; }
          off += ci * rowStrides[a]!;
          colOff += ci * colStrides[a]!;
        }
        if (!valid) continue;
        const v = xd[base + off]!;
        sum += v;
        if (v > best || (v !== v && best === best) || bestAt < 0) {
          best = v;
          bestAt = storageOrder === 0 ? off : colOff;
        }
      }
      od[p * planeOut + of] = op === "MaxPool" ? best : sum / divisor;
      if (id) id[p * planeOut + of] = BigInt(base + bestAt);
    }
  }
  return indices ? [roundToDType(out), indices] : [roundToDType(out)];
}

export function globalAveragePoolKernel(x: Tensor): Tensor {
  requireFloat(x, FLOATS, "GlobalAveragePool X");
  if (x.dims.length < 3) fail("GlobalAveragePool needs rank >= 3");
  const planes = x.dims[0]! * x.dims[1]!, plane = sizeOf(x.dims, 2);
  const out = makeTensor(x.dtype, [x.dims[0]!, x.dims[1]!, ...x.dims.slice(2).map(() => 1)]);
  const xd = x.data as Float32Array, od = out.data as Float32Array;
  for (let p = 0; p < planes; p++) {
    let sum = 0;
    for (let i = p * plane; i < (p + 1) * plane; i++) sum += xd[i]!;
    od[p] = sum / plane;
  }
  return roundToDType(out);
}
