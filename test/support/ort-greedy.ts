// onnxruntime-node's greedy loop over a with-past decoder, the reference for
// tierflow's generate: the prompt once with an empty past, then one token a
// step with the presents fed back as the past; the attention mask all ones and
// positions counting up, where the model takes them. Batch 1.

import * as ort from "onnxruntime-node";

const i64 = (values: readonly number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);

/** An IEEE half's bits as a number (onnxruntime-node gives float16 data as its raw bits). */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1, exponent = (bits >> 10) & 0x1f, fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * A float tensor's values as numbers, whatever float type the model gives (float16 comes as
 * its bits in a Uint16Array, or as a Float16Array where the Node.js line has one: Node 24).
 */
export function floatValues(t: ort.Tensor): Float32Array {
  if (t.type !== "float16") return t.data as Float32Array;
  return t.data instanceof Uint16Array ? Float32Array.from(t.data, halfToNumber) : Float32Array.from(t.data as ArrayLike<number>);
}


/** The last position's logits. */
function lastRow(t: ort.Tensor): Float32Array {
  const vocab = Number(t.dims[t.dims.length - 1]);
  const data = floatValues(t);
  return data.subarray(data.length - vocab);
}

export async function onnxruntimeCachedGreedy(model: string, prompt: readonly number[], tokens: number,
  options: ort.InferenceSession.SessionOptions = {}): Promise<number[]> {
  const session = await ort.InferenceSession.create(model, options);
  try {
    const meta = session.inputMetadata as unknown as { name: string; type: string; shape: readonly (number | string)[] }[];
    const cache: Record<string, ort.Tensor> = {};
    for (const m of meta) {
      if (!m.name.startsWith("past_key_values.")) continue;
      const dims = [1, Number(m.shape[1]), 0, Number(m.shape[3])];
      cache[m.name] = m.type === "float16" ? new ort.Tensor("float16", new Uint16Array(0), dims) : new ort.Tensor("float32", new Float32Array(0), dims);
    }
    const takes = (name: string) => meta.some((m) => m.name === name);
    const ids = [...prompt];
    let held = 0, step = [...prompt];
    while (ids.length < prompt.length + tokens) {
      const feeds: Record<string, ort.Tensor> = { input_ids: i64(step), ...cache };
      if (takes("attention_mask")) feeds.attention_mask = i64(new Array(held + step.length).fill(1));
      if (takes("position_ids")) feeds.position_ids = i64(step.map((_, i) => held + i));
      const out = await session.run(feeds);
      const logits = lastRow(out.logits!);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
      ids.push(best);
      for (const n of Object.keys(cache)) cache[n] = out[n.replace("past_key_values.", "present.")]!;
      held += step.length;
      step = [best];
    }
    return ids;
  } finally {
    await session.release();
  }
}
