// Conv over N-D spatial inputs, as im2col + the batched GEMM of gemm.ts (or,
// for few products per output in 2-D float32, directly: DIRECT_DEPTH):
// per (image, group), W_g [M/g, C/g * K] times the column matrix [C/g * K, out].
// All (image, group) products of a run of images are one batch, so large
// convolutions use the WebAssembly kernel and its threads, and depthwise ones
// do not pay a call per channel. A 1x1 kernel with unit stride and no padding
// multiplies X directly.

import type { Attrs } from "../../../ir/graph/graph.js";
import { fail } from "../../../ir/diagnostics.js";
import type { Tensor } from "../../../ir/tensor.js";
import { intAttr, intsAttr, FLOATS } from "../../../ir/graph/ops/util.js";
import { requireFloat, roundToDType, sizeOf } from "./common.js";
import { gemmFloatBatch } from "./gemm.js";
import { MR } from "./gemm-wasm.js";
import { SKC } from "./gemm-f32-wasm.js";
import type { MatView } from "./gemm.js";
import { inputCoords, windowGeometry } from "./window.js";
import type { WindowAxis } from "./window.js";
import { allocateOverwritten } from "./buffers.js";
import { conv2dF32 } from "./simd.js";

/**
 * Float32 2-D convolutions with at most this many products per output (input channels per group
 * times kernel taps, above 1 tap: depthwise ones, a first layer on 3 channels) run directly on
 * conv2d-wasm.ts, which reads zero-padded input planes instead of a column matrix (building it in
 * JavaScript cost more than the products). Larger ones go through im2col and the GEMM.
 */
const DIRECT_DEPTH = 64;

/** Largest column-matrix buffer (float32 for float32 data, so that the GEMM sums in float32; float64 for float64) one batch of images may use. */
const COL_BYTES = 32 * 1024 * 1024;

/** Write the column matrix of one group of one image: row (c, kernel offset), column output position. */
function im2col(x: Float32Array | Float64Array, xBase: number, channels: number, geo: readonly WindowAxis[], col: Float32Array | Float64Array): void {
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

/**
 * One output of a float32 depthwise convolution in the float32 GEMM's order (gemm-f32-wasm.ts):
 * taps in order, each product and sum rounded to float32, in blocks of SKC added in float64.
 */
function tapsF32(xd: Float32Array | Float64Array, xBase: number, wd: Float32Array | Float64Array, wb: number, taps: Int32Array, t0: number, kp: number): number {
  let total = 0;
  for (let k0 = 0; k0 < kp; k0 += SKC) {
    let acc = 0;
    for (let p = k0, end = Math.min(kp, k0 + SKC); p < end; p++) {
      const i = taps[t0 + p]!;
      acc = Math.fround(acc + Math.fround(wd[wb + p]! * (i < 0 ? 0 : xd[xBase + i]!)));
    }
    total += acc;
  }
  return total;
}

/**
 * 2-D convolution with one input channel per group and fewer than MR output channels per
 * group (depthwise), computed directly: the same sums in the same order as im2col and the
 * GEMM (float32: tapsF32; float64: gemmFewRows's, kernel offsets four at a time; padding as
 * zeros), without a column matrix,
 * whose construction costs more than these few products (float32 runs on conv2dF32 instead, where
 * SIMD is available).
 * Where each output's kernel taps land in the input plane (or in the padding) is worked out
 * once, for every channel and image.
 */
function depthwise2d(x: Tensor, w: Tensor, bias: Tensor | undefined, out: Tensor, mg: number, geo: readonly WindowAxis[]): void {
  const [gy, gx] = geo as [WindowAxis, WindowAxis];
  const cy = inputCoords(gy), cx = inputCoords(gx);
  const [batch, channels] = [x.dims[0]!, x.dims[1]!], m = out.dims[1]!;
  const kh = gy.kernel, kw = gx.kernel, kp = kh * kw, oh = gy.out, ow = gx.out, iw = gx.size, plane = gy.size * iw;
  const planeOut = oh * ow;
  const xd = x.data as Float32Array, wd = w.data as Float32Array, bd = bias?.data as Float32Array | undefined;
  const od = out.data as Float32Array;
  const f32 = x.data instanceof Float32Array && w.data instanceof Float32Array, fround = Math.fround;

  // taps[o * kp + p]: offset in the input plane of kernel tap p for output o, or -1 in the padding.
  const taps = new Int32Array(planeOut * kp);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const t0 = (oy * ow + ox) * kp;
      for (let ky = 0; ky < kh; ky++) {
        const iy = cy[ky * oh + oy]!;
        for (let kx = 0; kx < kw; kx++) {
          const ix = cx[kx * ow + ox]!;
          taps[t0 + ky * kw + kx] = iy < 0 || ix < 0 ? -1 : iy * iw + ix;
        }
      }
    }
  }
  for (let n = 0; n < batch; n++) {
    for (let g = 0; g < channels; g++) {
      const xBase = (n * channels + g) * plane;
      for (let r = 0; r < mg; r++) {
        const ch = g * mg + r, wb = ch * kp, b = bd ? bd[ch]! : 0, oBase = (n * m + ch) * planeOut;
        if (f32 && kp <= SKC) {
          // Four outputs at a time: four independent float32 chains keep the pipeline busy.
          let o = 0;
          for (; o + 4 <= planeOut; o += 4) {
            let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
            const t0 = o * kp, t1 = t0 + kp, t2 = t1 + kp, t3 = t2 + kp;
            for (let p = 0; p < kp; p++) {
              const wv = wd[wb + p]!, i0 = taps[t0 + p]!, i1 = taps[t1 + p]!, i2 = taps[t2 + p]!, i3 = taps[t3 + p]!;
              c0 = fround(c0 + fround(wv * (i0 < 0 ? 0 : xd[xBase + i0]!)));
              c1 = fround(c1 + fround(wv * (i1 < 0 ? 0 : xd[xBase + i1]!)));
              c2 = fround(c2 + fround(wv * (i2 < 0 ? 0 : xd[xBase + i2]!)));
              c3 = fround(c3 + fround(wv * (i3 < 0 ? 0 : xd[xBase + i3]!)));
            }
            od[oBase + o] = c0 + b; od[oBase + o + 1] = c1 + b; od[oBase + o + 2] = c2 + b; od[oBase + o + 3] = c3 + b;
          }
          for (; o < planeOut; o++) od[oBase + o] = tapsF32(xd, xBase, wd, wb, taps, o * kp, kp) + b;
          continue;
        }
        if (f32) {
          for (let o = 0, t0 = 0; o < planeOut; o++, t0 += kp) od[oBase + o] = tapsF32(xd, xBase, wd, wb, taps, t0, kp) + b;
          continue;
        }
        for (let o = 0, t0 = 0; o < planeOut; o++, t0 += kp) {
          let c = 0, p = 0;
          for (; p + 4 <= kp; p += 4) {
            const i0 = taps[t0 + p]!, i1 = taps[t0 + p + 1]!, i2 = taps[t0 + p + 2]!, i3 = taps[t0 + p + 3]!;
            const x0 = i0 < 0 ? 0 : xd[xBase + i0]!, x1 = i1 < 0 ? 0 : xd[xBase + i1]!;
            const x2 = i2 < 0 ? 0 : xd[xBase + i2]!, x3 = i3 < 0 ? 0 : xd[xBase + i3]!;
            c += wd[wb + p]! * x0 + wd[wb + p + 1]! * x1 + wd[wb + p + 2]! * x2 + wd[wb + p + 3]! * x3;
          }
          for (; p < kp; p++) {
            const i = taps[t0 + p]!;
            c += wd[wb + p]! * (i < 0 ? 0 : xd[xBase + i]!);
          }
          od[oBase + o] = c + b;
        }
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
  const out = allocateOverwritten(x.dtype, [batch, m, ...geo.map((g) => g.out)]); // every path writes every output
  const planeIn = sizeOf(x.dims, 2), planeOut = sizeOf(out.dims, 2), kp = sizeOf(kernel), mg = m / group;
  const depth = cg * kp;
  if (rank === 4 && kp > 1 && depth <= DIRECT_DEPTH && x.data instanceof Float32Array && w.data instanceof Float32Array &&
    conv2dF32({
      images: batch, groups: group, inputs: cg, outputs: mg, h: geo[0]!.size, w: geo[1]!.size, oh: geo[0]!.out, ow: geo[1]!.out,
      kh: geo[0]!.kernel, kw: geo[1]!.kernel, stride: [geo[0]!.stride, geo[1]!.stride], dilation: [geo[0]!.dilation, geo[1]!.dilation],
      pad: [geo[0]!.padBegin, geo[1]!.padBegin],
    }, x.data, w.data, bias?.data as Float32Array | undefined, out.data as Float32Array)) {
    return roundToDType(out);
  }
  if (group === 1 && kp === 1 && planeOut === 1 && planeIn === 1 && depth <= SKC && x.data instanceof Float32Array && w.data instanceof Float32Array) {
    // 1x1 planes (a squeeze-and-excite block's layers): one GEMM for the batch, out [images, m] = X [images, c] W^T.
    const added = gemmFloatBatch({
      m: batch, n: m, k: depth, count: 1, f32Result: true, bias: bias?.data as Float32Array | undefined,
      a: () => ({ data: x.data, offset: 0, rowStride: channels, colStride: 1 }),
      b: () => ({ data: w.data, offset: 0, rowStride: 1, colStride: depth }),
    }, (_, row0, col0, rows, cols, c, off, ldc) => {
      const od = out.data as Float32Array;
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) od[(row0 + r) * m + col0 + j] = c[off + r * ldc + j]!;
    });
    if (bias && !added) {
      const od = out.data as Float32Array, bd = bias.data as Float32Array;
      for (let i = 0; i < od.length; i++) od[i] = od[i]! + bd[i % m]!;
    }
    return roundToDType(out);
  }
  if (rank === 4 && cg === 1 && mg < MR) {
    depthwise2d(x, w, bias, out, mg, geo);
    return roundToDType(out);
  }
  const pointwise = geo.every((g) => g.kernel === 1 && g.stride === 1 && g.padBegin === 0 && g.padEnd === 0);
  // One batch of GEMMs per run of images (their column matrices within COL_BYTES): GEMM
  // t = image * group + g, so grouped and depthwise convolutions make one call, not one per group.
  const colSize = channels * kp * planeOut;
  const Col = x.data instanceof Float64Array ? Float64Array : Float32Array;
  const images = Math.max(1, Math.min(batch, Math.floor(COL_BYTES / (Col.BYTES_PER_ELEMENT * Math.max(1, colSize)))));
  const col = pointwise ? undefined : new Col(images * colSize);
  const xd = x.data as Float32Array, od = out.data as Float32Array, bd = bias?.data as Float32Array | undefined;
  // Float32 with K in one block: C's values are float32 sums, so C then + bias rounds as C + bias
  // does; C comes as float32 and the kernel adds the bias per channel where it can.
  const exact = out.data instanceof Float32Array && !(x.data instanceof Float64Array) && depth <= SKC;
  for (let n0 = 0; n0 < batch; n0 += images) {
    const count = Math.min(images, batch - n0);
    if (col) for (let i = 0; i < count; i++) im2col(xd, (n0 + i) * channels * planeIn, channels, geo, col.subarray(i * colSize));
    const image = (t: number) => Math.floor(t / group), groupOf = (t: number) => t % group;
    const biasAdded = gemmFloatBatch({
      m: mg, n: planeOut, k: depth, count: count * group,
      a: (t) => ({ data: w.data, offset: groupOf(t) * mg * depth, rowStride: depth, colStride: 1 }),
      b: (t) => (col
        ? { data: col, offset: image(t) * colSize + groupOf(t) * depth * planeOut, rowStride: planeOut, colStride: 1 }
        : { data: xd, offset: ((n0 + image(t)) * channels + groupOf(t) * cg) * planeIn, rowStride: planeIn, colStride: 1 }),
      f32Result: exact, rowBias: exact ? bd : undefined, rowBiasAt: (t) => groupOf(t) * mg,
    }, (t, row0, col0, rows, width, c, off, ldc) => {
      for (let r = 0; r < rows; r++) {
        const channel = groupOf(t) * mg + row0 + r, b = bd && !exact ? bd[channel]! : 0;
        const dst = ((n0 + image(t)) * m + channel) * planeOut + col0, src = off + r * ldc;
        if (b === 0 && width >= 64) od.set(c.subarray(src, src + width), dst); // no bias (or added after); a short row copies faster in a loop
        else for (let o = 0; o < width; o++) od[dst + o] = c[src + o]! + b;
      }
    });
    if (bd && exact && !biasAdded) {
      for (let i = 0; i < count; i++) {
        for (let ch = 0; ch < m; ch++) {
          const b = bd[ch]!, base = ((n0 + i) * m + ch) * planeOut;
          for (let o = 0; o < planeOut; o++) od[base + o] = od[base + o]! + b;
        }
      }
    }
  }
  return roundToDType(out);
}
