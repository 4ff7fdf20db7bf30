// LayerNormalization of float32 rows as WebAssembly SIMD, in float64 lanes:
// the statistics and the output with exactly the float64 operations, in the
// same order, of normalize.ts's JavaScript loop, so both give the same bits.
// That order: element j of a row is summed into accumulator j mod 4, and the
// four are added as (a0 + a1) + (a2 + a3) (here the two lanes of two f64x2
// accumulators), once for the mean and once for the squared deviations; each
// output is ((x - mean) * inv * scale + bias) rounded once to float32.
//
// layernorm(p, rows, n, scale, bias, stats, eps): `rows` rows of n float32s at p
// (n a multiple of 4) are normalised in place; scale and bias are n float32s
// (layernorm_nobias has no bias: adding 0 would turn -0 into +0); stats gets
// float32 (mean, inv) per row; eps is the address of a float64.

import type { Code, WasmFunction } from "./wasm-encode.js";
import {
  F64, I32, V128, add, cat, f32DemoteF64, f32Store, f64AddScalar, f64Load, f64x2Add, f64x2ExtractLane, f64x2Mul,
  f64x2PromoteLowF32x4, get, i32, i8x16Shuffle, set, tee, v128Load, v128Store, vectorLoop,
} from "./wasm-encode.js";

const simd = (op: number): Code => [0xfd, ...(op < 0x80 ? [op] : [(op & 0x7f) | 0x80, op >> 7])];
const f64x2Sub = simd(0xf1), f64x2Splat = simd(0x14), demoteZero = simd(0x5e);
const f64Div: Code = [0xa3], f64Sqrt: Code = [0x9f], f64ConvertI32: Code = [0xb7], f64Const1: Code = [0x44, ...new Uint8Array(new Float64Array([1]).buffer)];
const highHalf = i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
const lowHalves = i8x16Shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
const storeAt = (offset: number): Code => [0x38, 2, offset];

function layerNorm(withBias: boolean): WasmFunction {
  const [P, ROWS, N, SC, BI, ST, EPS] = [0, 1, 2, 3, 4, 5, 6];
  const [Q, LEFT, G, H] = [7, 8, 9, 10]; // i32
  const [MEAN, INV] = [11, 12]; // f64
  const [S0, S1, V, A, B, MV, IV] = [13, 14, 15, 16, 17, 18, 19]; // v128
  const low = (v: number) => cat(get(v), f64x2PromoteLowF32x4);
  const high = (v: number) => cat(get(v), get(v), highHalf, f64x2PromoteLowF32x4);
  const total = cat(get(S0), f64x2ExtractLane(0), get(S0), f64x2ExtractLane(1), f64AddScalar,
    get(S1), f64x2ExtractLane(0), get(S1), f64x2ExtractLane(1), f64AddScalar, f64AddScalar);
  const rewind = cat(get(P), set(Q), get(N), set(LEFT));
  const advance = (local: number) => cat(get(local), i32(16), add, set(local));
  const sumStep = () => cat(get(Q), v128Load(0), set(V), get(S0), low(V), f64x2Add, set(S0), get(S1), high(V), f64x2Add, set(S1), advance(Q));
  const square = (half: Code) => cat(half, get(MV), f64x2Sub, tee(A), get(A), f64x2Mul);
  const varStep = () => cat(get(Q), v128Load(0), set(V), get(S0), square(low(V)), f64x2Add, set(S0), get(S1), square(high(V)), f64x2Add, set(S1), advance(Q));
  const y = (half: (v: number) => Code) => cat(
    half(V), get(MV), f64x2Sub, get(IV), f64x2Mul, half(A), f64x2Mul, withBias ? cat(half(B), f64x2Add) : [], demoteZero,
  );
  const outStep = () => cat(
    get(Q), v128Load(0), set(V), get(G), v128Load(0), set(A), withBias ? cat(get(H), v128Load(0), set(B)) : [],
    get(Q), y(low), y(high), lowHalves, v128Store(0), advance(Q), advance(G), withBias ? advance(H) : [],
  );
  const zero: Code = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  const row = cat(
    zero, set(S0), zero, set(S1), rewind, vectorLoop(LEFT, sumStep),
    total, get(N), f64ConvertI32, f64Div, tee(MEAN), f64x2Splat, set(MV),
    zero, set(S0), zero, set(S1), rewind, vectorLoop(LEFT, varStep),
    f64Const1, total, get(N), f64ConvertI32, f64Div, get(EPS), f64Load, f64AddScalar, f64Sqrt, f64Div, tee(INV), f64x2Splat, set(IV),
    get(ST), get(MEAN), f32DemoteF64, f32Store, get(ST), get(INV), f32DemoteF64, storeAt(4), get(ST), i32(8), add, set(ST),
    get(SC), set(G), get(BI), set(H), rewind, vectorLoop(LEFT, outStep),
    get(Q), set(P),
  );
  const body = cat([0x02, 0x40], get(ROWS), [0x45], [0x0d, 0], [0x03, 0x40], row, get(ROWS), i32(1), [0x6b], tee(ROWS), [0x0d, 0], [0x0b], [0x0b]);
  return { name: withBias ? "layernorm" : "layernorm_nobias", params: 7, locals: [[4, I32], [2, F64], [7, V128]], body };
}

/** The SIMD module's layernorm and layernorm_nobias functions. */
export function normKernels(): WasmFunction[] {
  return [layerNorm(true), layerNorm(false)];
}
