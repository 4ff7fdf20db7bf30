// 2-D depthwise convolution (one input channel per group) of float32 planes as
// WebAssembly SIMD, for conv.ts: four outputs of a row per f32x4, each lane
// the sum conv.ts's JavaScript computes for its output, in the same order
// (taps row by row from +0, each product and sum rounded to float32, then + the
// bias, 0 when there is none), so both give the same bits. Padding is real
// zeros: each unit's input plane is first copied into a zeroed scratch plane
// with its padding around it, so every tap is a plain load.
//
// depthwise(desc, first, count, scratch), byte addresses: units (image, output
// channel) [first, first + count), each computed through the scratch plane.
// desc, int32s: x, w, bias, out (addresses of X [images, C, H, W], W [M, kh *
// kw], bias [M] and the output [images, M, oh, ow]); C, M / C (outputs per
// group), h, w, oh, ow, kh, kw, stride y and x, dilation y and x, pad top and
// left; then the scratch plane's rows and row length (ph, pw) as conv.ts
// sized them (depthwiseScratch).

import type { Code, WasmFunction } from "./wasm-encode.js";
import {
  I32, V128, add, block, brIf, cat, f32LoadAt, f32x4Add, f32x4ExtractLane, f32x4Mul, f32x4ReplaceLane, f32x4Splat, get, i32, i32LoadAt,
  i8x16Shuffle, ifElse, leS, load32Splat, loop, ltS, mul, set, sub, tee, v128Load, v128Store, v128Zero,
} from "./wasm-encode.js";

/** Int32s of the descriptor. */
export const DEPTHWISE_DESC_WORDS = 20;

/** The padded plane a unit's scratch holds: rows and row length (at least four columns past the last tap, for whole-vector loads), and its bytes. */
export function depthwiseScratch(oh: number, ow: number, kh: number, kw: number, sy: number, sx: number, dy: number, dx: number) {
  const rows = (oh - 1) * sy + (kh - 1) * dy + 1;
  const width = (Math.ceil(ow / 4) * 4 - 1) * sx + (kw - 1) * dx + 1 + 8;
  return { rows, width, bytes: rows * width * 4 + 64 };
}

const memoryCopy: Code = [0xfc, 10, 0, 0], memoryFill: Code = [0xfc, 11, 0];
const f32Store = (offset: number): Code => [0x38, 2, offset];
const evens = i8x16Shuffle([0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27]);
const inc = (local: number, by: Code): Code => cat(get(local), by, add, set(local));

export function depthwiseKernel(): WasmFunction {
  const [DESC, FIRST, COUNT, SCRATCH] = [0, 1, 2, 3];
  let next = 4;
  const named = <const N extends string>(...names: N[]) => Object.fromEntries(names.map((n) => [n, next++])) as Record<N, number>;
  const L = named("X", "W", "B", "O", "C", "MG", "H", "IW", "OH", "OW", "KH", "KW", "SY", "SX", "DY", "DX", "PY", "PX", "PH", "PW");
  const T = named("U", "END", "M", "PLANE", "WP", "BV0", "OP", "R", "IN", "N", "OY", "OX", "KY", "KX", "ROW", "TAP", "WT", "LEFT");
  const i32s = next - 4;
  const V = named("ACC", "XV", "WV", "BIAS", "HI");
  const fields = ["X", "W", "B", "O", "C", "MG", "H", "IW", "OH", "OW", "KH", "KW", "SY", "SX", "DY", "DX", "PY", "PX", "PH", "PW"] as const;
  const setup = cat(
    ...fields.map((f, w) => cat(get(DESC), i32LoadAt(4 * w), set(L[f]))),
    get(L.C), get(L.MG), mul, set(T.M),
    get(FIRST), set(T.U), get(FIRST), get(COUNT), add, set(T.END),
  );
  // The unit's input plane into the zeroed scratch, row r of the scratch being input row r - pad top.
  const copyRows = cat(
    get(SCRATCH), i32(0), get(L.PH), get(L.PW), mul, i32(4), mul, memoryFill,
    i32(0), set(T.R),
    loop(
      get(T.R), get(L.PY), sub, tee(T.IN), i32(0), ltS, get(T.IN), get(L.H), i32(-1), add, [0x4a] /* gt_s */, [0x72] /* or */,
      ifElse([], cat(
        // columns: input [0, n) to scratch [px, px + n), n = min(w, pw - px)
        get(L.IW), get(L.PW), get(L.PX), sub, tee(T.N), get(L.IW), get(T.N), ltS, [0x1b] /* select */, set(T.N),
        get(SCRATCH), get(T.R), get(L.PW), mul, get(L.PX), add, i32(4), mul, add,
        get(T.PLANE), get(T.IN), get(L.IW), mul, i32(4), mul, add,
        get(T.N), i32(4), mul, memoryCopy,
      )),
      inc(T.R, i32(1)), get(T.R), get(L.PH), ltS, brIf(0),
    ),
  );
  // Four taps of row ROW (byte address of the scratch element under the first lane), by stride.
  const taps = cat(
    get(L.SX), i32(1), [0x46] /* eq */,
    [0x04, 0x7b] /* if (result v128) */, get(T.ROW), v128Load(0),
    [0x05], get(L.SX), i32(2), [0x46],
    [0x04, 0x7b], get(T.ROW), v128Load(0), get(T.ROW), v128Load(16), evens,
    [0x05], get(T.ROW), load32Splat(0),
    ...[1, 2, 3].map((l) => cat(get(T.ROW), get(L.SX), i32(4 * l), mul, add, f32LoadAt(0), f32x4ReplaceLane(l))),
    [0x0b], [0x0b],
  );
  const accumulate = cat(
    v128Zero, set(V.ACC), get(T.WP), set(T.WT), i32(0), set(T.KY),
    loop(
      i32(0), set(T.KX),
      loop(
        // scratch element ((oy sy + ky dy), (ox sx + kx dx))
        get(SCRATCH), get(T.OY), get(L.SY), mul, get(T.KY), get(L.DY), mul, add, get(L.PW), mul,
        get(T.OX), get(L.SX), mul, add, get(T.KX), get(L.DX), mul, add, i32(4), mul, add, set(T.ROW),
        get(V.ACC), get(T.WT), load32Splat(0), taps, f32x4Mul, f32x4Add, set(V.ACC),
        inc(T.WT, i32(4)), inc(T.KX, i32(1)), get(T.KX), get(L.KW), ltS, brIf(0),
      ),
      inc(T.KY, i32(1)), get(T.KY), get(L.KH), ltS, brIf(0),
    ),
    get(V.ACC), get(V.BIAS), f32x4Add, set(V.ACC),
  );
  // Store lanes [0, min(4, ow - ox)) at OP.
  const store = cat(
    get(L.OW), get(T.OX), sub, tee(T.LEFT), i32(4), [0x4e] /* ge_s */,
    ifElse(cat(get(T.OP), get(V.ACC), v128Store(0)), block(
      ...[0, 1, 2].map((l) => cat(get(T.LEFT), i32(l), leS, brIf(0), get(T.OP), get(V.ACC), f32x4ExtractLane(l), f32Store(4 * l))),
    )),
  );
  const outputs = cat(
    i32(0), set(T.OY),
    loop(
      i32(0), set(T.OX),
      loop(accumulate, store, inc(T.OP, i32(16)), inc(T.OX, i32(4)), get(T.OX), get(L.OW), ltS, brIf(0)),
      // OP moved by whole vectors: back to the end of this output row
      get(T.OP), get(L.OW), i32(3), add, i32(-4), [0x71] /* and */, get(L.OW), sub, i32(4), mul, sub, set(T.OP),
      inc(T.OY, i32(1)), get(T.OY), get(L.OH), ltS, brIf(0),
    ),
  );
  const unit = cat(
    // unit u = image * M + channel; input plane of channel / mg
    get(L.X), get(T.U), get(T.M), [0x6d] /* div_s */, get(L.C), mul, get(T.U), get(T.M), [0x6f] /* rem_s */, get(L.MG), [0x6d], add,
    get(L.H), mul, get(L.IW), mul, i32(4), mul, add, set(T.PLANE),
    get(L.W), get(T.U), get(T.M), [0x6f], get(L.KH), mul, get(L.KW), mul, i32(4), mul, add, set(T.WP),
    get(L.B), get(T.U), get(T.M), [0x6f], i32(4), mul, add, load32Splat(0), set(V.BIAS),
    get(L.O), get(T.U), get(L.OH), mul, get(L.OW), mul, i32(4), mul, add, set(T.OP),
    copyRows, outputs,
    inc(T.U, i32(1)), get(T.U), get(T.END), ltS, brIf(0),
  );
  const body = cat(setup, block(get(COUNT), i32(1), ltS, brIf(0), loop(unit)));
  return { name: "depthwise", params: 4, locals: [[i32s, I32], [5, V128]], body };
}
