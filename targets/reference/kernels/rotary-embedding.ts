// Rotary position embedding with a cos/sin table looked up per token: the core
// the direct kernels of ONNX's RotaryEmbedding and onnxruntime's RotaryEmbedding
// and GroupQueryAttention (do_rotary) share. The first `rotaryDim` channels of
// each head rotate in pairs, the rest pass through. A pair is (i, i + rotaryDim/2)
// in the rotate-half form, (2i, 2i + 1) when interleaved; with c and s the
// table's entry i for the token,
//   x1' = x1 * c - x2 * s,   x2' = x1 * s + x2 * c,
// each product rounded to float32, then the difference or sum (the float32
// arithmetic the reference implementations do).

import { fail } from "../../../ir/diagnostics.js";

export interface RotaryLayout {
  readonly batch: number;
  readonly heads: number;
  readonly seq: number;
  /** Channels per head. */
  readonly size: number;
  /** [batch, heads, seq, size] when true, [batch, seq, heads, size] (a [batch, seq, hidden] input) when false. */
  readonly headsFirst: boolean;
}

export interface RotaryTables {
  readonly cos: Float32Array;
  readonly sin: Float32Array;
  /** Rows the tables hold (each rotaryDim / 2 long). */
  readonly rows: number;
  /** The table row for token `s` of batch entry `b`. */
  row(b: number, s: number): number;
}

/** x rotated per the layout and tables (a new array; x is left alone). */
export function rotaryEmbedding(x: Float32Array, layout: RotaryLayout, rotaryDim: number, interleaved: boolean, tables: RotaryTables): Float32Array {
  const { batch, heads, seq, size } = layout, half = rotaryDim / 2, fr = Math.fround;
  const out = Float32Array.from(x);
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < seq; s++) {
      const r = tables.row(b, s);
      if (!Number.isInteger(r) || r < 0 || r >= tables.rows) fail(`rotary position ${r} (batch ${b}, token ${s}) is outside the cos/sin cache of ${tables.rows} rows`);
      const c = r * half;
      for (let h = 0; h < heads; h++) {
        const base = layout.headsFirst ? ((b * heads + h) * seq + s) * size : ((b * seq + s) * heads + h) * size;
        for (let i = 0; i < half; i++) {
          const i1 = base + (interleaved ? 2 * i : i), i2 = base + (interleaved ? 2 * i + 1 : i + half);
          const x1 = x[i1]!, x2 = x[i2]!, cv = tables.cos[c + i]!, sv = tables.sin[c + i]!;
          out[i1] = fr(x1 * cv) - fr(x2 * sv);
          out[i2] = fr(x1 * sv) + fr(x2 * cv);
        }
      }
    }
  }
  return out;
}
