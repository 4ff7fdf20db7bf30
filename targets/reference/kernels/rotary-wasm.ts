// The rotate-half rotary embedding (rotary.ts) as WebAssembly SIMD: per row of
// d float32s (d a multiple of 8), four elements of each half at a time:
//   out1 = x1 * c1 + (-x2) * s1,  out2 = x2 * c2 + x1 * s2
// each product and the sum one float32 operation, as the nodes compute them
// ((-a) * b is -(a * b) exactly).
//
// rotary(x, cos, sin, out, first, count, d, table): rows [first, first + count)
// of x and out (d float32s each, contiguous); table holds, per row, the byte
// offset of its row of cos and sin from their starts.

import type { Code, WasmFunction } from "./wasm-encode.js";
import { I32, V128, add, block, brIf, cat, f32x4Add, f32x4Mul, get, i32, i32LoadAt, loop, ltS, mul, set, shl, sub, tee, v128Load, v128Store } from "./wasm-encode.js";

const f32x4Neg: Code = [0xfd, 0xe1, 0x01];
const inc = (local: number, by: Code): Code => cat(get(local), by, add, set(local));

function rotary(): WasmFunction {
  const [X, COS, SIN, OUT, FIRST, COUNT, D, TABLE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [R, END, PX, PO, PC, PS, HALF, J] = [8, 9, 10, 11, 12, 13, 14, 15];
  const [X1, X2] = [16, 17];
  const at = (p: number, off: Code = []) => cat(get(p), off, get(J), add);
  const row = cat(
    // this row's x and out, and its cos and sin rows
    get(R), get(D), mul, i32(2), shl, tee(PX), get(X), add, set(PX), get(R), get(D), mul, i32(2), shl, get(OUT), add, set(PO),
    get(TABLE), get(R), i32(2), shl, add, i32LoadAt(0), tee(PC), get(SIN), add, set(PS), get(PC), get(COS), add, set(PC),
    i32(0), set(J),
    loop(
      at(PX), v128Load(0), set(X1), at(PX, cat(get(HALF), add)), v128Load(0), set(X2),
      at(PO), get(X1), at(PC), v128Load(0), f32x4Mul, get(X2), f32x4Neg, at(PS), v128Load(0), f32x4Mul, f32x4Add, v128Store(0),
      at(PO, cat(get(HALF), add)), get(X2), at(PC, cat(get(HALF), add)), v128Load(0), f32x4Mul, get(X1), at(PS, cat(get(HALF), add)), v128Load(0), f32x4Mul, f32x4Add, v128Store(0),
      inc(J, i32(16)), get(J), get(HALF), ltS, brIf(0),
    ),
    inc(R, i32(1)), get(R), get(END), ltS, brIf(0),
  );
  const body = cat(
    get(D), i32(1), [0x76] /* shr_u */, i32(2), shl, set(HALF), // bytes in half a row
    get(FIRST), set(R), get(FIRST), get(COUNT), add, set(END),
    block(get(COUNT), i32(1), ltS, brIf(0), get(HALF), i32(16), sub, i32(0), ltS, brIf(0), loop(row)),
  );
  return { name: "rotary", params: 8, locals: [[8, I32], [2, V128]], body };
}

/** The SIMD module's rotary function. */
export function rotaryKernels(): WasmFunction[] {
  return [rotary()];
}
