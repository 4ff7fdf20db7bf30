// Shared by the runtime tests: the example models, seeded sample inputs
// (test/support/sample-inputs.ts) and the largest difference between two sets of outputs.

import { join } from "node:path";
import type { Tensor } from "../../ir/tensor.js";

/** A plan (or any IR object) with its readonly marks removed, for tests that break one on purpose. */
export type Writable<T> = { -readonly [K in keyof T]: Writable<T[K]> };

export const MODELS_DIR = join(import.meta.dirname, "..", "..", "examples", "models");
export { VOCAB, sampleInputs } from "../support/sample-inputs.js";

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
