// Runs an activation pattern (ir/graph/ops/activation-expressions.ts) in one SIMD pass for the
// reference backend's activation fusion; undefined where it does not apply
// (the fusion then runs the nodes).

import type { Tensor } from "../../../ir/tensor.js";
import { allocateOverwritten } from "./buffers.js";
import type { ActivationPattern } from "../../../ir/graph/ops/activation-expressions.js";
import { activationF32 } from "./simd.js";

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The pattern over `inputs` (float32, one shape) and `constants` (single float32 values that do not widen it). */
export function runActivation(pattern: ActivationPattern, inputs: readonly Tensor[], constants: readonly Tensor[]): Tensor | undefined {
  const dims = inputs[0]?.dims;
  if (!dims || inputs.some((x) => x.dtype !== "f32" || !sameDims(x.dims, dims))) return undefined;
  if (constants.some((c) => c.dtype !== "f32" || c.data.length !== 1 || c.dims.length > dims.length)) return undefined;
  const out = allocateOverwritten("f32", dims);
  const done = activationF32(pattern.name, inputs.map((x) => x.data as Float32Array), constants.map((c) => (c.data as Float32Array)[0]!), out.data as Float32Array);
  return done ? out : undefined;
}
