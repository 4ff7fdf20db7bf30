// Scaled dot-product attention as one WebAssembly SIMD kernel, for the
// reference backend's attention fusion (attention.ts runs it):
//   O = softmax(Q K^T op scale + mask) V      op: * or /
// per unit (one batch and head), four query rows at a time: their scores
// (4 x keys) stay in a small scratch, are normalised there and multiplied by V,
// so nothing of size queries x keys leaves the cache.
//
// Bits: each step does what its node's kernel does, in the same order, so the
// result is that of the nodes run one by one. Scores and O are sums of
// float32 products from +0 in increasing k, each product and sum rounded to
// float32, in the GEMM's order (gemm-f32-wasm.ts): d at most SKC, one block;
// over more than SKC keys, O sums each block of SKC keys so and adds the
// blocks' sums in float64, then rounds; the scale and the mask are one float32
// multiply (or divide) and add per score; rows are normalised by
// softmaxRowCode, the Softmax kernel's own code.
//
// attention_{mul,div}[_nomask](desc, table, first, count, scratch), byte addresses:
// - desc, int32s: queries, keys (a multiple of 4), d (a multiple of 4), dv (a
//   multiple of 8), then row strides in bytes of Q, K, V, the mask (0: its rows
//   repeat) and O; at byte 36 the scale as a float32;
// - table: per unit, 8 int32s: the addresses of its Q, K, V, mask and O (rows
//   of d, d, dv, keys and dv float32s, each row's elements contiguous);
// - units [first, first + count) are computed;
// - scratch: keys rounded up to 8, times (d + 4) float32s: K^T packed in
//   panels of 8 keys (step k holds keys j..j+7 at k, as the GEMM packs B;
//   missing keys 0), then the 4 rows of scores, then a 4 x 8 float64 tile.
// Q is read up to 3 rows past a unit's last (those rows' results are dropped):
// callers leave room after it.

import type { Code, WasmFunction } from "./wasm-encode.js";
import {
  I32, V128, add, block, brIf, cat, eqz, f32LoadAt, f32x4Add, f32x4Div, f32x4Mul, f32x4Splat, f64x2Add, f64x2PromoteLowF32x4, get, gtS,
  i32, i32And, i32LoadAt, i8x16Shuffle, ifElse, leS, load32Splat, loop, ltS, mul, select, set, shrS, sub, tee, v128Load, v128Store, v128Zero,
} from "./wasm-encode.js";
import { SOFTMAX_V128_LOCALS, softmaxRowCode } from "./simd-softmax-wasm.js";
import { SKC } from "./gemm-f32-wasm.js";

const demoteZero: Code = [0xfd, 0x5e], lowHalves = i8x16Shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);

/** Bytes of the descriptor and of one unit's table entry. */
export const ATTENTION_DESC_BYTES = 64, ATTENTION_UNIT_BYTES = 32;
/** Scratch bytes one chunk of units needs. */
export const attentionScratchBytes = (keys: number, d: number) => Math.ceil(keys / 8) * 8 * (d + 4) * 4 + FOLD_BYTES;
/** A 4 x 8 tile of float64 sums, where blocks of more than SKC keys are added up (the GEMM's K blocks). */
const FOLD_BYTES = 4 * 8 * 8;

const lanes = (l: readonly number[]) => i8x16Shuffle(l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]));
const inc = (local: number, by: Code): Code => cat(get(local), by, add, set(local));

export function attentionKernel(op: "mul" | "div", masked: boolean): WasmFunction {
  const [DESC, TABLE, FIRST, COUNT, SCRATCH] = [0, 1, 2, 3, 4];
  let next = 5;
  /** Fresh local indices, by name; declared in the order taken (the i32s first). */
  const named = <const N extends string>(...names: N[]) => Object.fromEntries(names.map((n) => [n, next++])) as Record<N, number>;
  const run = (k: number) => Array.from({ length: k }, () => next++);
  const { SQ, SK, D, DV, QROW, KROW, VROW, MROW, OROW } = named("SQ", "SK", "D", "DV", "QROW", "KROW", "VROW", "MROW", "OROW");
  const { U, END, QB, KB, VB, MB, OB, SS, SROW, SPAD, I0, ROWS, J, PA, PB, PC, KK } =
    named("U", "END", "QB", "KB", "VB", "MB", "OB", "SS", "SROW", "SPAD", "I0", "ROWS", "J", "PA", "PB", "PC", "KK");
  const { Q2, Q3, K2, K3, S2, S3, O2, O3, P, Q, LEFT, MQ, MP, R } = named("Q2", "Q3", "K2", "K3", "S2", "S3", "O2", "O3", "P", "Q", "LEFT", "MQ", "MP", "R");
  const { KB0, KC, FOLD } = named("KB0", "KC", "FOLD");
  const i32s = next - 5;
  const { SCALE, AV } = named("SCALE", "AV"), ACC = run(8), BV = run(2), T = run(8);
  const SMV = next;
  next += SOFTMAX_V128_LOCALS;
  const v128s = next - 5 - i32s;
  const acc = (r: number, v: number) => ACC[r * 2 + v]!;
  const rowOff = (stride: number, twice: number, thrice: number) => [[], cat(get(stride), add), cat(get(twice), add), cat(get(thrice), add)];
  const doubled = (x: number, x2: number, x3: number) => cat(get(x), get(x), add, tee(x2), get(x), add, set(x3));

  const setup = cat(
    ...[SQ, SK, D, DV, QROW, KROW, VROW, MROW, OROW].map((l, w) => cat(get(DESC), i32LoadAt(4 * w), set(l))),
    get(DESC), f32LoadAt(36), f32x4Splat, set(SCALE),
    doubled(QROW, Q2, Q3), doubled(KROW, K2, K3), doubled(OROW, O2, O3),
    get(SK), i32(7), add, i32(-8), i32And, tee(SPAD), i32(4), mul, set(SROW), doubled(SROW, S2, S3),
    get(SCRATCH), get(SPAD), get(D), mul, i32(4), mul, add, set(SS),
    get(SS), get(SROW), i32(4), mul, add, set(FOLD),
    get(FIRST), set(U), get(FIRST), get(COUNT), add, set(END),
  );

  // K^T into panels: four keys J..J+3 at a time, four k at a time, transposed in registers.
  const transpose4 = cat(
    get(T[0]!), get(T[1]!), lanes([0, 4, 1, 5]), set(T[4]!), get(T[2]!), get(T[3]!), lanes([0, 4, 1, 5]), set(T[5]!),
    get(T[0]!), get(T[1]!), lanes([2, 6, 3, 7]), set(T[6]!), get(T[2]!), get(T[3]!), lanes([2, 6, 3, 7]), set(T[7]!),
    get(T[4]!), get(T[5]!), lanes([0, 1, 4, 5]), set(T[0]!), get(T[4]!), get(T[5]!), lanes([2, 3, 6, 7]), set(T[1]!),
    get(T[6]!), get(T[7]!), lanes([0, 1, 4, 5]), set(T[2]!), get(T[6]!), get(T[7]!), lanes([2, 3, 6, 7]), set(T[3]!),
  );
  const packGroup = loop(
    ...[0, 1, 2, 3].map((r) => cat(get(PB), rowOff(KROW, K2, K3)[r]!, v128Load(0), set(T[r]!))),
    transpose4,
    ...[0, 1, 2, 3].map((q) => cat(get(PC), get(T[q]!), v128Store(32 * q))),
    inc(PB, i32(16)), inc(PC, i32(128)), get(KK), i32(1), sub, tee(KK), brIf(0),
  );
  const zeroGroup = loop(get(PC), v128Zero, v128Store(0), inc(PC, i32(32)), get(KK), i32(1), sub, tee(KK), brIf(0));
  const packK = cat(i32(0), set(J), loop(
    // panel J >> 3 at scratch + (J >> 3) * d * 32, its half (J & 4) * 4 bytes in
    get(SCRATCH), get(J), i32(3), shrS, get(D), mul, i32(32), mul, add, get(J), i32(4), i32And, i32(4), mul, add, set(PC),
    get(J), get(SK), ltS,
    ifElse(cat(get(KB), get(J), get(KROW), mul, add, set(PB), get(D), i32(2), shrS, set(KK), packGroup), cat(get(D), set(KK), zeroGroup)),
    inc(J, i32(4)), get(J), get(SPAD), ltS, brIf(0),
  ));

  // A 4 x 8 tile of products: `a(r)` is row r's address, B two vectors at PB; k steps of `step` bytes.
  const tile = (a: (r: number) => Code, bStep: Code, count: number): Code => cat(
    ...ACC.map((x) => cat(v128Zero, set(x))), get(count), set(KK),
    loop(
      get(PB), v128Load(0), set(BV[0]!), get(PB), v128Load(16), set(BV[1]!),
      ...[0, 1, 2, 3].map((r) => cat(a(r), load32Splat(0), set(AV),
        ...[0, 1].map((v) => cat(get(acc(r, v)), get(AV), get(BV[v]!), f32x4Mul, f32x4Add, set(acc(r, v)))))),
      inc(PA, i32(4)), inc(PB, bStep), get(KK), i32(1), sub, tee(KK), brIf(0),
    ),
  );
  // Scores of rows I0..I0+3 against every key panel, into the scratch rows.
  const scores = cat(
    get(SCRATCH), set(PB), get(SS), set(PC), get(SPAD), i32(3), shrS, set(J),
    loop(
      get(QB), get(I0), get(QROW), mul, add, set(PA),
      tile((r) => cat(get(PA), rowOff(QROW, Q2, Q3)[r]!), i32(32), D),
      ...[0, 1, 2, 3].flatMap((r) => [0, 1].map((v) => cat(get(PC), rowOff(SROW, S2, S3)[r]!, get(acc(r, v)), v128Store(16 * v)))),
      inc(PC, i32(32)), get(J), i32(1), sub, tee(J), brIf(0),
    ),
  );
  // Each live row: scale, mask (in the max pass, stored back), then softmax in place.
  const scaleOp = op === "mul" ? f32x4Mul : f32x4Div;
  const prepare = (u: number) => cat(get(Q), v128Load(16 * u), get(SCALE), scaleOp, masked ? cat(get(MQ), v128Load(16 * u), f32x4Add) : []);
  const prepareAdvance = (k: number) => (masked ? inc(MQ, i32(16 * k)) : []);
  const normalise = cat(
    get(SS), set(P), get(MB), get(I0), get(MROW), mul, add, set(MP), i32(0), set(R),
    loop(
      get(MP), set(MQ),
      softmaxRowCode({ p: P, n: SK, q: Q, left: LEFT, v: SMV }, prepare, prepareAdvance),
      inc(P, get(SROW)), inc(MP, get(MROW)), inc(R, i32(1)), get(R), get(ROWS), ltS, brIf(0),
    ),
  );
  // O rows I0.. (the live ones) = P V, eight columns at a time.
  const storeRows = block(...[0, 1, 2, 3].map((r) => cat(
    r > 0 ? cat(get(ROWS), i32(r), leS, brIf(0)) : [],
    ...[0, 1].map((v) => cat(get(PC), rowOff(OROW, O2, O3)[r]!, get(acc(r, v)), v128Store(16 * v))),
  )));
  // Keys in blocks of SKC as the GEMM sums them: one block's float32 sums are O; with more, each
  // block's sums go into the float64 tile at FOLD (the first stored, later ones added), demoted at the end.
  const high = i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
  const foldAt = (r: number, v: number, q: number) => 16 * (4 * r + 2 * v + q);
  const halves = (r: number, v: number) => [cat(get(acc(r, v)), f64x2PromoteLowF32x4), cat(get(acc(r, v)), get(acc(r, v)), high, f64x2PromoteLowF32x4)];
  const fold = ifElse(
    cat(...[0, 1, 2, 3].flatMap((r) => [0, 1].flatMap((v) => halves(r, v).map((h, q) => cat(get(FOLD), h, v128Store(foldAt(r, v, q))))))),
    cat(...[0, 1, 2, 3].flatMap((r) => [0, 1].flatMap((v) => halves(r, v).map((h, q) =>
      cat(get(FOLD), get(FOLD), v128Load(foldAt(r, v, q)), h, f64x2Add, v128Store(foldAt(r, v, q))))))),
  );
  const demoted = cat(...[0, 1, 2, 3].flatMap((r) => [0, 1].map((v) => cat(
    get(FOLD), v128Load(foldAt(r, v, 0)), demoteZero, get(FOLD), v128Load(foldAt(r, v, 1)), demoteZero, lowHalves, set(acc(r, v)),
  ))));
  const context = cat(
    get(VB), set(MQ), get(OB), get(I0), get(OROW), mul, add, set(PC), get(DV), i32(3), shrS, set(J),
    loop(
      i32(0), set(KB0),
      loop(
        i32(SKC), get(SK), get(KB0), sub, tee(KC), get(KC), i32(SKC), gtS, select, set(KC), // min(keys left, SKC)
        get(SS), get(KB0), i32(4), mul, add, set(PA), get(MQ), get(KB0), get(VROW), mul, add, set(PB),
        tile((r) => cat(get(PA), rowOff(SROW, S2, S3)[r]!), get(VROW), KC),
        get(SK), i32(SKC), gtS, ifElse(cat(get(KB0), eqz, fold), []),
        inc(KB0, i32(SKC)), get(KB0), get(SK), ltS, brIf(0),
      ),
      get(SK), i32(SKC), gtS, ifElse(demoted, []),
      storeRows,
      inc(MQ, i32(32)), inc(PC, i32(32)), get(J), i32(1), sub, tee(J), brIf(0),
    ),
  );
  const unit = cat(
    get(TABLE), get(U), i32(32), mul, add, set(PA),
    ...[QB, KB, VB, MB, OB].map((l, w) => cat(get(PA), i32LoadAt(4 * w), set(l))),
    packK,
    i32(0), set(I0),
    loop(
      get(SQ), get(I0), sub, tee(ROWS), i32(4), get(ROWS), i32(4), ltS, select, set(ROWS), // min(queries - I0, 4)
      scores, normalise, context,
      inc(I0, i32(4)), get(I0), get(SQ), ltS, brIf(0),
    ),
    inc(U, i32(1)), get(U), get(END), ltS, brIf(0),
  );
  const body = cat(setup, block(get(COUNT), i32(1), ltS, brIf(0), get(SQ), i32(1), ltS, brIf(0), loop(unit)));
  return { name: `attention_${op}${masked ? "" : "_nomask"}`, params: 5, locals: [[i32s, I32], [v128s, V128]], body };
}

/** The SIMD module's attention functions: scale by * or /, with or without a mask. */
export function attentionKernels(): WasmFunction[] {
  return (["mul", "div"] as const).flatMap((op) => [attentionKernel(op, true), attentionKernel(op, false)]);
}
