// RMS normalisation of float32 rows as WebAssembly SIMD, for the reference
// backend's rms-norm fusion (rms-norm.ts runs it):
//   y = w * (x * (1 / sqrt(mean(x^2) + eps)))
// with each step rounded as its node rounds it, so the result is that of the
// nodes one by one: x * x to float32 (Pow), the squares summed in float64 in
// element order from 0 and divided by n, rounded to float32 (ReduceMean, as
// reduce.ts sums); + eps, sqrt, 1 / that, x * r and w * that each one float32
// operation (float32 +, sqrt, / and * are the float64 results rounded once).
//
// rmsnorm(p, rows, n, w, eps): `rows` rows of n float32s at p (n a multiple of
// 4) are normalised in place; w is n float32s, eps the address of a float32.

import type { Code, WasmFunction } from "./wasm-encode.js";
import {
  I32, F64, V128, add, brIf, cat, eqz, f32DemoteF64, f32LoadAt, f32x4ExtractLane, f32x4Mul, f32x4Splat, f64AddScalar, get, i32,
  loop, set, sub, tee, v128Load, v128Store, vectorLoop,
} from "./wasm-encode.js";

const f64Zero: Code = [0x44, ...new Uint8Array(8)], f32One: Code = [0x43, ...new Uint8Array(new Float32Array([1]).buffer)];
const f64PromoteF32: Code = [0xbb], f64Div: Code = [0xa3], f64ConvertI32: Code = [0xb7];
const f32Add: Code = [0x92], f32Sqrt: Code = [0x91], f32Div: Code = [0x95];
const advance = (local: number): Code => cat(get(local), i32(16), add, set(local));

function rmsNorm(): WasmFunction {
  const [P, ROWS, N, W, EPS] = [0, 1, 2, 3, 4];
  const [Q, LEFT, G] = [5, 6, 7], SUM = 8, [V, RV] = [9, 10];
  const sumStep = () => cat(
    get(Q), v128Load(0), tee(V), get(V), f32x4Mul, set(V),
    ...[0, 1, 2, 3].map((lane) => cat(get(SUM), get(V), f32x4ExtractLane(lane), f64PromoteF32, f64AddScalar, set(SUM))),
    advance(Q),
  );
  const scaleStep = () => cat(get(Q), get(G), v128Load(0), get(Q), v128Load(0), get(RV), f32x4Mul, f32x4Mul, v128Store(0), advance(Q), advance(G));
  const row = cat(
    f64Zero, set(SUM), get(P), set(Q), get(N), set(LEFT), vectorLoop(LEFT, sumStep),
    f32One, get(SUM), get(N), f64ConvertI32, f64Div, f32DemoteF64, get(EPS), f32LoadAt(0), f32Add, f32Sqrt, f32Div, f32x4Splat, set(RV),
    get(P), set(Q), get(W), set(G), get(N), set(LEFT), vectorLoop(LEFT, scaleStep),
    get(Q), set(P),
  );
  const body = cat([0x02, 0x40], get(ROWS), eqz, brIf(0), loop(row, get(ROWS), i32(1), sub, tee(ROWS), brIf(0)), [0x0b]);
  return { name: "rmsnorm", params: 5, locals: [[3, I32], [1, F64], [2, V128]], body };
}

/** The SIMD module's rmsnorm function. */
export function rmsNormKernels(): WasmFunction[] {
  return [rmsNorm()];
}
