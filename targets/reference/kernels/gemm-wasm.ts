// The float GEMM inner loops as WebAssembly SIMD, emitted from TypeScript
// (wasm-encode.ts). Same arithmetic as the JavaScript kernel in gemm.ts,
// float64 products and sums in the same order, two lanes at a time: the
// results are bitwise identical, so which path runs (and on how many threads)
// never changes an answer. Measured on this project's 2-core AMD EPYC (Zen 1):
// about 10-12 GFLOP/s per core against 2 for the JavaScript loop. A float32x4
// variant (4x8 tiles) ran about twice as fast again but sums in float32, which
// would make the reference backend no more exact than the runtimes it checks;
// it was not kept.

import type { Code, WasmFunction } from "./wasm-encode.js";
import { f32Kernels } from "./gemm-f32-wasm.js";
import {
  I32, V128, add, brIf, cat, eqz, f32DemoteF64, f32Store, f64Load, f64x2Add, f64x2Mul, f64x2PromoteLowF32x4, get, gtS, i32, ifElse, load32Splat,
  load64Splat, loop, ltS, moduleBytes, mul, select, set, sub, tee, v128Load, v128Store, v128Zero,
} from "./wasm-encode.js";

/** Register tile (rows x columns of C) and K block depth; matmul.ts's JavaScript kernel uses the same K blocks. */
export const MR = 4, NR = 4, KC = 256;
/** Bytes of the workspace memory shared with the worker threads (fixed: growing a shared memory under running workers is not portable). */
export const WORKSPACE_BYTES = 256 * 1024 * 1024;
/** Values per chunk-table entry: the kernel's arguments. */
export const KERNEL_ARGS = 11;

/**
 * kernel(a, lda, b, c, ldc, k, i0, i1, j0, j1): C[i0:i1, j0:j1] = A * B, all byte addresses.
 * A is row-major (row i at a + i*lda), float32 or float64 by `aBytes`; B is packed in panels of
 * NR columns over all of K (panel of column j at b + j*k*8, step kk holding NR float64s); C is
 * float64, row i at c + i*ldc. i0 < i1 and j0 < j1 are multiples of MR and NR, k > 0. For each
 * K block a tile sums kk in order from zero, then the first block stores and later ones add.
 */
function kernel(name: string, aBytes: 4 | 8): WasmFunction {
  const [A, LDA, B, C, LDC, K, I0, I1, J0, J1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [K0, KCUR, J, I, KK, PA, PB, PC, LDA2, LDA3] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
  const ACC = 20, BV = ACC + 8, AV = BV + 2; // v128 locals: 4 rows x 2 vectors of 2 columns
  const acc = (r: number, v: number) => ACC + r * 2 + v;
  const loadA: Code = aBytes === 4 ? cat(load32Splat(0), f64x2PromoteLowF32x4) : load64Splat(0);
  const rowOffset = [[], cat(get(LDA), add), cat(get(LDA2), add), cat(get(LDA3), add)];

  const step: Code[] = [get(PB), v128Load(0), set(BV), get(PB), v128Load(16), set(BV + 1)];
  for (let r = 0; r < MR; r++) {
    step.push(get(PA), rowOffset[r]!, loadA, set(AV));
    for (let v = 0; v < 2; v++) step.push(get(acc(r, v)), get(AV), get(BV + v), f64x2Mul, f64x2Add, set(acc(r, v)));
  }
  step.push(get(PA), i32(aBytes), add, set(PA), get(PB), i32(NR * 8), add, set(PB));
  step.push(get(KK), i32(1), sub, tee(KK), brIf(0));

  const storeRows = (accumulate: boolean): Code => {
    const out: Code[] = [];
    for (let r = 0; r < MR; r++) {
      for (let v = 0; v < 2; v++) {
        out.push(get(PC));
        if (accumulate) out.push(get(PC), v128Load(v * 16), get(acc(r, v)), f64x2Add);
        else out.push(get(acc(r, v)));
        out.push(v128Store(v * 16));
      }
      if (r < MR - 1) out.push(get(PC), get(LDC), add, set(PC));
    }
    return cat(...out);
  };
  const tile = cat(
    get(A), get(I), get(LDA), mul, add, get(K0), i32(aBytes), mul, add, set(PA),
    get(B), get(J), get(K), mul, get(K0), i32(NR), mul, add, i32(8), mul, add, set(PB),
    ...Array.from({ length: 8 }, (_, q) => cat(v128Zero, set(ACC + q))),
    get(KCUR), set(KK), loop(...step),
    get(C), get(I), get(LDC), mul, add, get(J), i32(8), mul, add, set(PC),
    get(K0), eqz, ifElse(storeRows(false), storeRows(true)),
    get(I), i32(MR), add, tee(I), get(I1), ltS, brIf(0),
  );
  const columns = cat(get(I0), set(I), loop(tile), get(J), i32(NR), add, tee(J), get(J1), ltS, brIf(0));
  const kBlocks = cat(
    get(K), get(K0), sub, set(KCUR),
    i32(KC), get(KCUR), get(KCUR), i32(KC), gtS, select, set(KCUR), // kc = min(KC, k - k0)
    get(J0), set(J), loop(columns),
    get(K0), i32(KC), add, tee(K0), get(K), ltS, brIf(0),
  );
  const body = cat(
    get(LDA), get(LDA), add, tee(LDA2), get(LDA), add, set(LDA3),
    i32(0), set(K0),
    loop(kBlocks),
  );
  return { name, params: 10, locals: [[10, I32], [8 + 2 + 1, V128]], body };
}

/**
 * demote(src, dst, count): count float64s at src to float32s at dst (round to nearest even, as a
 * Float32Array store rounds), count > 0. Here because JavaScript converts float64 read from
 * shared memory at about 2.5 ns an element, several times slower than this loop.
 */
function demote(): WasmFunction {
  const [SRC, DST, COUNT] = [0, 1, 2];
  const body = loop(
    get(DST), get(SRC), f64Load, f32DemoteF64, f32Store,
    get(SRC), i32(8), add, set(SRC), get(DST), i32(4), add, set(DST),
    get(COUNT), i32(1), sub, tee(COUNT), brIf(0),
  );
  return { name: "demote", params: 3, locals: [], body };
}

let bytes: Uint8Array | undefined;

/** The GEMM kernels a chunk table may name, by index (gemm-pool.ts): float64 sums with float32 or float64 A, then float32 (gemm-f32-wasm.ts). */
export const KERNEL_NAMES = ["gemm_a32", "gemm_a64", "sgemm", "sgemv", "sgemm_c32", "sgemm_c32_bias", "sgemm_c32_rowbias"] as const;
export type KernelKind = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** The module (exports KERNEL_NAMES and demote), importing the workspace as env.mem. */
export function gemmModuleBytes(): Uint8Array {
  bytes ??= moduleBytes(WORKSPACE_BYTES / 65536, [kernel("gemm_a32", 4), kernel("gemm_a64", 8), ...f32Kernels(), demote()]);
  return bytes;
}
