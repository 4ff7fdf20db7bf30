// Seeded sample inputs for the example models: token ids below the
// vocabulary, an attention mask whose second row is padded, normal pixels.

import type { Tensor } from "../../ir/tensor.js";
import { makeTensor } from "../../ir/tensor.js";
import { seededRandom } from "../../compiler/seeded-random.js";

/** Vocabulary of the example text models. */
export const VOCAB = 512;

/** Token ids, a mask with the last two positions of row 2 padded, normal pixels. */
export function sampleInputs(names: readonly string[], batch: number, sequence: number, seed: number): Record<string, Tensor> {
  const next = seededRandom(seed);
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

