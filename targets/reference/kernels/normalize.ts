// BatchNormalization (inference) and LayerNormalization. Statistics are
// computed in float64 with two passes (mean, then squared deviations), so
// large offsets do not cancel the variance. Float32 LayerNormalization over
// rows of a multiple of 4 with unbroadcast Scale and B runs as WebAssembly
// SIMD (simd-norm-wasm.ts), with the same bits as the loop here.

import { fail } from "../../../ir/diagnostics.js";
import type { Tensor } from "../../../ir/tensor.js";
import { FLOATS, normalizeAxis } from "../../../ir/graph/ops/util.js";
import { broadcastIndex } from "./broadcast.js";
import { broadcastsTo, requireFloat, roundToDType, sizeOf } from "./common.js";
import { allocateOverwritten } from "./buffers.js";
import { layerNormF32 } from "./simd.js";

/** y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + bias[c], channel c = axis 1. */
export function batchNormKernel(x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor,
  epsilon: number, trainingMode: number, outputCount: number): Tensor {
  if (trainingMode !== 0) fail("BatchNormalization in training mode is not supported");
  if (outputCount > 1) fail("BatchNormalization in inference mode has one output");
  requireFloat(x, FLOATS, "BatchNormalization X");
  if (x.dims.length < 2) fail(`BatchNormalization needs X of rank >= 2, got ${x.dims.length}`);
  const channels = x.dims[1]!;
  const params = [scale, bias, mean, variance];
  for (const [i, p] of params.entries()) {
    requireFloat(p, FLOATS, `BatchNormalization input ${i + 1}`);
    if (p.dims.length !== 1 || p.dims[0] !== channels) fail(`BatchNormalization input ${i + 1} must have shape [${channels}]`);
  }
  const [sd, bd, md, vd] = params.map((p) => p.data as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const out = allocateOverwritten(x.dtype, x.dims);
  const xd = x.data as Float32Array, od = out.data as Float32Array;
  const plane = sizeOf(x.dims, 2), planes = x.dims[0]! * channels;
  for (let p = 0; p < planes; p++) {
    const c = p % channels;
    const mul = sd[c]! / Math.sqrt(vd[c]! + epsilon), add = bd[c]! - md[c]! * mul;
    for (let i = p * plane; i < (p + 1) * plane; i++) od[i] = xd[i]! * mul + add;
  }
  return roundToDType(out);
}

/** The index map of a Scale or B input broadcast (unidirectionally) to the normalised dims. */
function paramIndex(t: Tensor, dims: readonly number[], what: string): Int32Array | null {
  if (!broadcastsTo(t.dims, dims)) {
    fail(`LayerNormalization ${what} of shape [${t.dims.join(", ")}] does not broadcast to [${dims.join(", ")}]`);
  }
  return broadcastIndex(t.dims, dims);
}

/**
 * Normalise over axes [axis, rank): outputs Y and, when asked, Mean and InvStdDev (float32,
 * shape of X with the normalised axes set to 1).
 */
export function layerNormKernel(x: Tensor, scale: Tensor, bias: Tensor | undefined, axisAttr: number,
  epsilon: number, outputCount: number): Tensor[] {
  requireFloat(x, FLOATS, "LayerNormalization X");
  if (scale.dtype !== x.dtype || (bias && bias.dtype !== x.dtype)) fail("LayerNormalization inputs must share one dtype");
  const axis = normalizeAxis(axisAttr, x.dims.length);
  const normDims = x.dims.slice(axis), rows = sizeOf(x.dims, 0, axis), n = sizeOf(normDims);
  const si = paramIndex(scale, normDims, "Scale"), bi = bias ? paramIndex(bias, normDims, "B") : null;
  const statDims = x.dims.map((d, i) => (i < axis ? d : 1));
  const out = allocateOverwritten(x.dtype, x.dims), meanOut = allocateOverwritten("f32", statDims), invOut = allocateOverwritten("f32", statDims);
  const xd = x.data as Float32Array, od = out.data as Float32Array, sd = scale.data as Float32Array;
  const bd = bias?.data as Float32Array | undefined;
  const meanData = meanOut.data as Float32Array, invData = invOut.data as Float32Array;
  if (x.dtype === "f32" && !si && !bi && n > 0) {
    const stats = new Float32Array(2 * rows);
    if (layerNormF32(xd, sd, bd, epsilon, od, stats, rows, n)) {
      for (let r = 0; r < rows; r++) {
        meanData[r] = stats[2 * r]!;
        invData[r] = stats[2 * r + 1]!;
      }
      return [out, meanOut, invOut].slice(0, Math.max(1, outputCount));
    }
  }
  // Sums in four accumulators, element j into j mod 4, added as (a0 + a1) + (a2 + a3): the
  // order of the SIMD kernel (simd-norm-wasm.ts), so both give the same bits.
  const acc = new Float64Array(4);
  const sumOfFour = () => acc[0]! + acc[1]! + (acc[2]! + acc[3]!);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    acc.fill(0);
    for (let j = 0; j < n; j++) acc[j & 3]! += xd[base + j]!;
    const mean = sumOfFour() / n;
    acc.fill(0);
    for (let j = 0; j < n; j++) {
      const d = xd[base + j]! - mean;
      acc[j & 3]! += d * d; // correctly rounded, where ** 2 calls pow
    }
    const inv = 1 / Math.sqrt(sumOfFour() / n + epsilon);
    for (let j = 0; j < n; j++) {
      const y = (xd[base + j]! - mean) * inv * sd[si ? si[j]! : j]!;
      od[base + j] = bd ? y + bd[bi ? bi[j]! : j]! : y;
    }
    meanData[r] = mean;
    invData[r] = inv;
  }
  return [roundToDType(out), meanOut, invOut].slice(0, Math.max(1, outputCount));
}
