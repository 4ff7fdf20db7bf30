// Shared by the runtime tests: the example models, seeded sample inputs and
// the largest difference between two sets of outputs.

import { join } from "node:path";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor } from "../../ir/tensor.js";

/** A plan (or any IR object) with its readonly marks removed, for tests that break one on purpose. */
export type Writable<T> = { -readonly [K in keyof T]: Writable<T[K]> };

export const MODELS_DIR = join(import.meta.dirname, "..", "..", "examples", "models");
export const VOCAB = 512;

/** mulberry32: a small seeded generator, so every run feeds the same inputs. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Token ids, a mask with the last two positions of row 2 padded, normal pixels. */
export function sampleInputs(names: readonly string[], batch: number, sequence: number, seed: number): Record<string, Tensor> {
  const next = random(seed);
  const inputs: Record<string, Tensor> = {};
  for (const name of names) {
    if (name === "input_ids") {
      const t = makeTensor("i64", [batch, sequence]);
      const d = t.data as BigInt64Array;
      for (let i = 0; i < d.length; i++) d[i] = BigInt(Math.floor(next() * VOCAB));
      inputs[name] = t;
    } else if (name === "attention_mask") {
      const t = makeTensor("i64", [batch, sequence]);
      const d = t.data as BigInt64Array;
      for (let i = 0; i < d.length; i++) d[i] = i >= sequence && i % sequence >= sequence - 2 ? 0n : 1n;
      inputs[name] = t;
    } else if (name === "pixels") {
      const t = makeTensor("f32", [batch, 3, 64, 64]);
      const d = t.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
      inputs[name] = t;
    } else {
      throw new Error(`no sample input for '${name}'`);
    }
  }
  return inputs;
}

/** Largest absolute difference over every output (NaN counts as the largest). */
export function maxAbsError(want: Readonly<Record<string, Tensor>>, got: Readonly<Record<string, Tensor>>): number {
  let max = 0;
  for (const [name, w] of Object.entries(want)) {
    const g = got[name];
    if (!g || g.data.length !== w.data.length) return Infinity;
    for (let i = 0; i < w.data.length; i++) {
      const d = Math.abs(Number(w.data[i]) - Number(g.data[i]));
      if (!(d <= max)) max = d;
    }
  }
  return max;
}
