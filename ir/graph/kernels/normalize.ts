// BatchNormalization (inference) and LayerNormalization. Statistics are
// computed in float64 with two passes (mean, then squared deviations), so
// large offsets do not cancel the variance.

import { fail } from "../../diagnostics.js";
import type { Tensor } from "../../tensor.js";
import { FLOATS, normalizeAxis } from "../ops/util.js";
import { broadcastIndex } from "./broadcast.js";
import { broadcastsTo, requireFloat, roundToDType, sizeOf } from "./common.js";
import { allocateOverwritten } from "./buffers.js";

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
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += xd[base + j]!;
    const mean = sum / n;
    let sq = 0;
    for (let j = 0; j < n; j++) {
      const d = xd[base + j]! - mean;
      sq += d * d; // correctly rounded, where ** 2 calls pow
    }
    const inv = 1 / Math.sqrt(sq / n + epsilon);
    for (let j = 0; j < n; j++) {
      const y = (xd[base + j]! - mean) * inv * sd[si ? si[j]! : j]!;
      od[base + j] = bd ? y + bd[bi ? bi[j]! : j]! : y;
    }
    (meanOut.data as Float32Array)[r] = mean;
    (invOut.data as Float32Array)[r] = inv;
  }
  return [roundToDType(out), meanOut, invOut].slice(0, Math.max(1, outputCount));
}
