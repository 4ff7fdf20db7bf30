// The float32 GEMM inner loops as WebAssembly SIMD (f32x4), emitted from
// TypeScript (wasm-encode.ts) into the module of gemm-wasm.ts, which the
// worker threads of gemm-pool.ts share.
//
// Order of the sums (the one every float32 path follows, gemm-f32.ts's
// JavaScript loops too): element (i, j) sums K in blocks of KC = 256 (block
// b covers k in [256 b, 256 b + 256)); within a block, from +0, one product at
// a time in increasing k, each product rounded to float32 and each sum rounded
// to float32 (f32x4.mul then f32x4.add: WebAssembly has no fused multiply-add
// outside relaxed SIMD, whose rounding is left to the engine); each block's
// float32 sum is then added, in block order, to a float64 total. The answer
// for (i, j) thus depends only on row i of A, column j of B and K: not on the
// path, the tile, the thread, or which rows and columns are computed with it,
// so a plan executed tile by tile gives the whole op's bits.
//
// Error: each of a block's at most KC terms is rounded at most KC times (its
// product once, then the sums it goes through), so a block's float32 sum is
// within gamma_KC * sum |a_k b_k| of the exact one, gamma_n = n u / (1 - n u),
// u = 2^-24 (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
// section 3.1 and 4.2): 1.5e-5 * sum |a b| in the worst case, typically about
// sqrt(KC) u, whatever K is; a plain float32 sum's bound grows as K u. The
// float64 fold adds about (K / KC) 2^-53 and the final rounding u |c|.
// Measured against float64 sums (test/kernels/gemm-f32.test.ts, random
// matrices): at most 6.7e-7 * sum |a b| (K = 256, all terms positive), and
// 1.8e-7 at K = 4096, where a plain float32 sum is at 2.4e-6.
//
// Kernels (byte addresses, float32 A row-major, C float64 row i at c + i ldc):
// - sgemm: 4 x 8 tiles of C in eight f32x4 accumulators; B packed in panels of
//   8 columns over all of K (panel of column j at b + j k 4, step k holding 8
//   float32s); rows i0..i1 multiples of 4, columns j0..j1 multiples of 8.
//   sgemm_c32, for K of one block: the same, C float32; sgemm_c32_bias adds
//   a row of float32s (an eleventh argument) to C as it stores it (a bias Add),
//   sgemm_c32_rowbias one float32 per row of C (a Conv's bias per channel).
// - sgemv: for few columns (matrix-vector products): lanes are 4 rows of A,
//   two groups of 4 rows at a time (two independent sums per lane in flight),
//   A read 4 k at a time and transposed in registers; B as columns (column j
//   at b + j k 4, float32 over K); rows multiples of 8, columns step 1.
// Measured on this project's 2-core AMD EPYC (Zen 1), one thread, operands in
// cache: sgemm 16-22 GFLOP/s (the float64 kernel 8-11), sgemv about 7.
// Known weakness: A is read with scalar broadcasts from 4 row streams (no A
// packing, which would cost a JavaScript pass); unrolling K by two measured
// slower (V8's register allocation); a fused multiply-add would halve the
// arithmetic but is not deterministic across engines.

import type { Code, WasmFunction } from "./wasm-encode.js";
import {
  I32, V128, add, brIf, cat, eqz, f32LoadAt, f32x4Add, f32x4Mul, f32x4ReplaceLane, f32x4Splat, f64LoadAt, f64StoreAt, f64AddScalar,
  f64x2Add, f64x2ExtractLane, f64x2PromoteLowF32x4, get, gtS, i32, i32And, i8x16Shuffle, ifElse, load32Splat, loop, ltS, mul, select,
  set, shrS, sub, tee, v128Load, v128Store, v128Zero,
} from "./wasm-encode.js";

/** sgemm's register tile (rows x columns of C); sgemv's rows per pass. */
export const SMR = 4, SNR = 8, GEMV_ROWS = 8;
/** K block depth: the float32 sums restart from zero every KC steps. */
export const SKC = 256;

/** The upper two float32 lanes moved to the lower two (for f64x2.promote_low). */
const highHalf = i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
const lanes = (l: readonly number[]) => i8x16Shuffle(l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]));

// Parameters, shared by both kernels.
const [A, LDA, B, C, LDC, K, I0, I1, J0, J1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/** kc = min(SKC, k - k0) into local KCUR. */
const blockDepth = (K0: number, KCUR: number): Code =>
  cat(get(K), get(K0), sub, set(KCUR), i32(SKC), get(KCUR), get(KCUR), i32(SKC), gtS, select, set(KCUR));

/** Add (or, in the first K block, store) the float32x4 in `v` to C as float64s at addresses pc + offset (lanes 0, 1) and + 16 (lanes 2, 3). */
function foldRow(v: number, PC: number, offset: number, K0: number): Code {
  const halves = [cat(get(v), f64x2PromoteLowF32x4), cat(get(v), get(v), highHalf, f64x2PromoteLowF32x4)];
  const store = (first: boolean) => cat(...halves.map((h, q) =>
    cat(get(PC), first ? h : cat(get(PC), v128Load(offset + 16 * q), h, f64x2Add), v128Store(offset + 16 * q))));
  return cat(get(K0), eqz, ifElse(store(true), store(false)));
}

/**
 * sgemm, or with `c32` sgemm_c32: C is float32 (row i at c + i ldc) and K at most SKC, one
 * block, whose float32 sum is the float64 total exactly; no float64 C, no demotion pass.
 * With a bias of columns, sgemm_c32_bias: an eleventh argument is the address of a row of
 * float32s (column j at bias + 4 j) added to each row of C, one float32 addition (a bias
 * Add's); of rows, sgemm_c32_rowbias: one float32 per row i (at bias + 4 i) added to it.
 */
function sgemm(c32: boolean, bias: "none" | "columns" | "rows" = "none"): WasmFunction {
  const BIAS = 10, params = bias === "none" ? 10 : 11; // locals follow the parameters
  const [K0, KCUR, J, I, KK, PA, PB, PC, LDA2, LDA3] = Array.from({ length: 10 }, (_, q) => params + q) as [number, number, number, number, number, number, number, number, number, number];
  const ACC = params + 10, BV = ACC + 8, AV = BV + 2; // v128 locals: 4 rows x 2 vectors of 4 columns
  const acc = (r: number, v: number) => ACC + r * 2 + v;
  const rowOffset = [[], cat(get(LDA), add), cat(get(LDA2), add), cat(get(LDA3), add)];
  const step: Code[] = [get(PB), v128Load(0), set(BV), get(PB), v128Load(16), set(BV + 1)];
  for (let r = 0; r < SMR; r++) {
    step.push(get(PA), rowOffset[r]!, load32Splat(0), set(AV));
    for (let v = 0; v < 2; v++) step.push(get(acc(r, v)), get(AV), get(BV + v), f32x4Mul, f32x4Add, set(acc(r, v)));
  }
  step.push(get(PA), i32(4), add, set(PA), get(PB), i32(SNR * 4), add, set(PB));
  step.push(get(KK), i32(1), sub, tee(KK), brIf(0));
  // A bias of columns: its two vectors for this tile's columns, into the B registers (free after
  // the loop); of rows: each row's value, splat into the A register.
  const fold: Code[] = bias === "columns" ? [0, 1].map((v) => cat(get(BIAS), get(J), i32(4), mul, add, v128Load(16 * v), set(BV + v))) : [];
  for (let r = 0; r < SMR; r++) {
    if (bias === "rows") fold.push(get(BIAS), get(I), i32(r), add, i32(4), mul, add, load32Splat(0), set(AV));
    for (let v = 0; v < 2; v++) {
      const value = bias === "none" ? get(acc(r, v)) : cat(get(acc(r, v)), get(bias === "rows" ? AV : BV + v), f32x4Add);
      fold.push(c32 ? cat(get(PC), value, v128Store(16 * v)) : foldRow(acc(r, v), PC, 32 * v, K0));
    }
    if (r < SMR - 1) fold.push(get(PC), get(LDC), add, set(PC));
  }
  const tile = cat(
    get(A), get(I), get(LDA), mul, add, get(K0), i32(4), mul, add, set(PA),
    get(B), get(J), get(K), mul, get(K0), i32(SNR), mul, add, i32(4), mul, add, set(PB),
    ...Array.from({ length: 8 }, (_, q) => cat(v128Zero, set(ACC + q))),
    get(KCUR), set(KK), loop(...step),
    get(C), get(I), get(LDC), mul, add, get(J), i32(c32 ? 4 : 8), mul, add, set(PC),
    ...fold,
    get(I), i32(SMR), add, tee(I), get(I1), ltS, brIf(0),
  );
  const columns = cat(get(I0), set(I), loop(tile), get(J), i32(SNR), add, tee(J), get(J1), ltS, brIf(0));
  const kBlocks = cat(blockDepth(K0, KCUR), get(J0), set(J), loop(columns), get(K0), i32(SKC), add, tee(K0), get(K), ltS, brIf(0));
  const body = cat(get(LDA), get(LDA), add, tee(LDA2), get(LDA), add, set(LDA3), i32(0), set(K0), loop(kBlocks));
  const name = !c32 ? "sgemm" : bias === "none" ? "sgemm_c32" : bias === "columns" ? "sgemm_c32_bias" : "sgemm_c32_rowbias";
  return { name, params, locals: [[10, I32], [11, V128]], body };
}

function sgemv(): WasmFunction {
  const [K0, KCUR, J, I, KK, PA, PB, PC, LDA2, LDA3, LDA4] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  const V = 21; // v128 locals: ACC0, ACC1, B0..B3, R0..R3, U0..U3
  const ACC = V, BS = V + 2, R = V + 6, U = V + 10;
  const rowOff = (q: number): Code => [[], cat(get(LDA), add), cat(get(LDA2), add), cat(get(LDA3), add)][q]!;
  // Four k of rows 4g..4g+3, transposed: R[q] becomes lanes (row 4g .. 4g+3) at k + q.
  const group = (g: number): Code => {
    const base = g === 0 ? get(PA) : cat(get(PA), get(LDA4), add);
    const out: Code[] = [];
    for (let q = 0; q < 4; q++) out.push(base, rowOff(q), v128Load(0), set(R + q));
    out.push(get(R), get(R + 1), lanes([0, 4, 1, 5]), set(U), get(R + 2), get(R + 3), lanes([0, 4, 1, 5]), set(U + 1));
    out.push(get(R), get(R + 1), lanes([2, 6, 3, 7]), set(U + 2), get(R + 2), get(R + 3), lanes([2, 6, 3, 7]), set(U + 3));
    out.push(get(U), get(U + 1), lanes([0, 1, 4, 5]), set(R), get(U), get(U + 1), lanes([2, 3, 6, 7]), set(R + 1));
    out.push(get(U + 2), get(U + 3), lanes([0, 1, 4, 5]), set(R + 2), get(U + 2), get(U + 3), lanes([2, 3, 6, 7]), set(R + 3));
    for (let q = 0; q < 4; q++) out.push(get(ACC + g), get(R + q), get(BS + q), f32x4Mul, f32x4Add, set(ACC + g));
    return cat(...out);
  };
  const quad = cat(
    ...[0, 1, 2, 3].map((q) => cat(get(PB), load32Splat(4 * q), set(BS + q))),
    group(0), group(1),
    get(PA), i32(16), add, set(PA), get(PB), i32(16), add, set(PB),
    get(KK), i32(1), sub, tee(KK), brIf(0),
  );
  // One k: gather column k of the 8 rows lane by lane.
  const gather = (g: number): Code => {
    const base = g === 0 ? get(PA) : cat(get(PA), get(LDA4), add);
    return cat(base, f32LoadAt(0), f32x4Splat, ...[1, 2, 3].map((q) => cat(base, rowOff(q), f32LoadAt(0), f32x4ReplaceLane(q))),
      get(PB), load32Splat(0), f32x4Mul, set(R));
  };
  const single = cat(
    gather(0), get(ACC), get(R), f32x4Add, set(ACC), // ACC + product: operand order as in quad (addition commutes exactly)
    gather(1), get(ACC + 1), get(R), f32x4Add, set(ACC + 1),
    get(PA), i32(4), add, set(PA), get(PB), i32(4), add, set(PB),
    get(KK), i32(1), sub, tee(KK), brIf(0),
  );
  // Fold lanes into C[i + r, j] (float64), r = 0..7.
  const fold: Code[] = [];
  for (let g = 0; g < 2; g++) {
    for (let h = 0; h < 2; h++) {
      const x = h === 0 ? cat(get(ACC + g), f64x2PromoteLowF32x4) : cat(get(ACC + g), get(ACC + g), highHalf, f64x2PromoteLowF32x4);
      fold.push(x, set(U));
      for (let lane = 0; lane < 2; lane++) {
        const value = (first: boolean) => cat(get(PC), first ? cat(get(U), f64x2ExtractLane(lane)) : cat(get(PC), f64LoadAt(0), get(U), f64x2ExtractLane(lane), f64AddScalar), f64StoreAt(0));
        fold.push(get(K0), eqz, ifElse(value(true), value(false)), get(PC), get(LDC), add, set(PC));
      }
    }
  }
  const rows = cat(
    get(A), get(I), get(LDA), mul, add, get(K0), i32(4), mul, add, set(PA),
    get(B), get(J), get(K), mul, i32(4), mul, add, get(K0), i32(4), mul, add, set(PB),
    v128Zero, set(ACC), v128Zero, set(ACC + 1),
    get(KCUR), i32(2), shrS, tee(KK), ifElse(loop(quad), []),
    get(KCUR), i32(3), i32And, tee(KK), ifElse(loop(single), []),
    get(C), get(I), get(LDC), mul, add, get(J), i32(8), mul, add, set(PC),
    ...fold,
    get(I), i32(GEMV_ROWS), add, tee(I), get(I1), ltS, brIf(0),
  );
  const columns = cat(get(I0), set(I), loop(rows), get(J), i32(1), add, tee(J), get(J1), ltS, brIf(0));
  const kBlocks = cat(blockDepth(K0, KCUR), get(J0), set(J), loop(columns), get(K0), i32(SKC), add, tee(K0), get(K), ltS, brIf(0));
  const body = cat(
    get(LDA), get(LDA), add, tee(LDA2), get(LDA), add, tee(LDA3), get(LDA), add, set(LDA4),
    i32(0), set(K0), loop(kBlocks),
  );
  return { name: "sgemv", params: 10, locals: [[11, I32], [14, V128]], body };
}

/** The float32 kernels, for gemm-wasm.ts's module. */
export function f32Kernels(): WasmFunction[] {
  return [sgemm(false), sgemv(), sgemm(true), sgemm(true, "columns"), sgemm(true, "rows")];
}
