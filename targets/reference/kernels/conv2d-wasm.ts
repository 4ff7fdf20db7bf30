// 2-D convolution of float32 planes with few input channels per group
// (depthwise ones, a network's first layer) as WebAssembly SIMD, for conv.ts:
// four outputs of a row per f32x4, each lane the sum im2col and the GEMM
// compute for its output, in the same order (input channel, then taps row by
// row, from +0, each product and sum rounded to float32, then + the bias, 0 when
// there is none), so every path gives the same bits. Padding is real zeros: a
// unit's input planes are first copied into zeroed scratch planes with their
// padding around them, so every tap is a plain load.
//
// conv2d(desc, first, count, scratch), byte addresses: units (image, group)
// [first, first + count), each through its scratch planes. desc, int32s: x,
// w, bias, out (addresses of X [images, C, H, W], W [M, C / G, kh, kw], bias
// [M] and the output [images, M, oh, ow]); C / G (inputs per group), M / G
// (outputs per group), h, w, oh, ow, kh, kw, stride y and x, dilation y and
// x, pad top and left; the scratch planes' rows and row length (ph, pw) as
// convScratch sizes them; G.

import type { Code, WasmFunction } from "./wasm-encode.js";
import {
  I32, V128, add, block, brIf, cat, f32LoadAt, f32x4Add, f32x4ExtractLane, f32x4Mul, f32x4ReplaceLane, f32x4Splat, get, i32, i32LoadAt,
  i8x16Shuffle, ifElse, leS, load32Splat, loop, ltS, mul, set, sub, tee, v128Load, v128Store, v128Zero,
} from "./wasm-encode.js";

/** Int32s of the descriptor. */
export const CONV2D_DESC_WORDS = 21;

/**
 * The padded planes a unit's scratch holds: rows and row length (at least four columns past
 * the last tap, for whole-vector loads), and the bytes of `planes` of them.
 */
export function convScratch(planes: number, oh: number, ow: number, kh: number, kw: number, sy: number, sx: number, dy: number, dx: number) {
  const rows = (oh - 1) * sy + (kh - 1) * dy + 1;
  const width = (Math.ceil(ow / 4) * 4 - 1) * sx + (kw - 1) * dx + 1 + 8;
  return { rows, width, bytes: planes * rows * width * 4 + 64 };
}

const memoryCopy: Code = [0xfc, 10, 0, 0], memoryFill: Code = [0xfc, 11, 0];
const f32Store = (offset: number): Code => [0x38, 2, offset];
const evens = i8x16Shuffle([0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27]);
const inc = (local: number, by: Code): Code => cat(get(local), by, add, set(local));

export function conv2dKernel(): WasmFunction {
  const [DESC, FIRST, COUNT, SCRATCH] = [0, 1, 2, 3];
  let next = 4;
  const named = <const N extends string>(...names: N[]) => Object.fromEntries(names.map((n) => [n, next++])) as Record<N, number>;
  const L = named("X", "W", "B", "O", "CG", "MG", "H", "IW", "OH", "OW", "KH", "KW", "SY", "SX", "DY", "DX", "PY", "PX", "PH", "PW", "G");
  const T = named("U", "END", "M", "PLANE", "WP", "OP", "R", "IN", "N", "OY", "OX", "KY", "KX", "ROW", "WT", "LEFT", "CI", "SP", "PS", "CH");
  const i32s = next - 4;
  const V = named("ACC", "XV", "WV", "BIAS", "HI");
  const fields = ["X", "W", "B", "O", "CG", "MG", "H", "IW", "OH", "OW", "KH", "KW", "SY", "SX", "DY", "DX", "PY", "PX", "PH", "PW", "G"] as const;
  const setup = cat(
    ...fields.map((f, w) => cat(get(DESC), i32LoadAt(4 * w), set(L[f]))),
    get(L.G), get(L.MG), mul, set(T.M),
    get(L.PH), get(L.PW), mul, i32(4), mul, set(T.PS), // bytes of one scratch plane
    get(FIRST), set(T.U), get(FIRST), get(COUNT), add, set(T.END),
  );
  // Input plane PLANE into the zeroed scratch plane at SP, row r of it being input row r - pad top.
  const copyRows = cat(
    get(T.SP), i32(0), get(T.PS), memoryFill,
    i32(0), set(T.R),
    loop(
      get(T.R), get(L.PY), sub, tee(T.IN), i32(0), ltS, get(T.IN), get(L.H), i32(-1), add, [0x4a] /* gt_s */, [0x72] /* or */,
      ifElse([], cat(
        // columns: input [0, n) to scratch [px, px + n), n = min(w, pw - px)
        get(L.IW), get(L.PW), get(L.PX), sub, tee(T.N), get(L.IW), get(T.N), ltS, [0x1b] /* select */, set(T.N),
        get(T.SP), get(T.R), get(L.PW), mul, get(L.PX), add, i32(4), mul, add,
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
  // Over input channel CI's scratch plane (SP), taps row by row; weights from WT on.
  const accumulate = cat(
    v128Zero, set(V.ACC), get(T.WP), set(T.WT), get(SCRATCH), set(T.SP), i32(0), set(T.CI),
    loop(
      i32(0), set(T.KY),
      loop(
        i32(0), set(T.KX),
        loop(
          // scratch element ((oy sy + ky dy), (ox sx + kx dx)) of this channel's plane
          get(T.SP), get(T.OY), get(L.SY), mul, get(T.KY), get(L.DY), mul, add, get(L.PW), mul,
          get(T.OX), get(L.SX), mul, add, get(T.KX), get(L.DX), mul, add, i32(4), mul, add, set(T.ROW),
          get(V.ACC), get(T.WT), load32Splat(0), taps, f32x4Mul, f32x4Add, set(V.ACC),
          inc(T.WT, i32(4)), inc(T.KX, i32(1)), get(T.KX), get(L.KW), ltS, brIf(0),
        ),
        inc(T.KY, i32(1)), get(T.KY), get(L.KH), ltS, brIf(0),
      ),
      inc(T.SP, get(T.PS)), inc(T.CI, i32(1)), get(T.CI), get(L.CG), ltS, brIf(0),
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
  // Unit u = image * G + group: its CG input planes into scratch, then each of its MG output channels.
  const unit = cat(
    get(L.X), get(T.U), get(L.CG), mul, get(L.H), mul, get(L.IW), mul, i32(4), mul, add, set(T.PLANE),
    get(SCRATCH), set(T.SP), i32(0), set(T.CI),
    loop(copyRows, inc(T.PLANE, cat(get(L.H), get(L.IW), mul, i32(4), mul)), inc(T.SP, get(T.PS)), inc(T.CI, i32(1)), get(T.CI), get(L.CG), ltS, brIf(0)),
    // first output channel: (image * M + group * MG); its weights, bias and plane
    get(T.U), get(L.G), [0x6d] /* div_s */, get(T.M), mul, get(T.U), get(L.G), [0x6f] /* rem_s */, get(L.MG), mul, add, set(T.CH),
    get(T.U), get(L.G), [0x6f], get(L.MG), mul, set(T.R), // channel within M
    get(L.O), get(T.CH), get(L.OH), mul, get(L.OW), mul, i32(4), mul, add, set(T.OP),
    get(L.MG), set(T.N),
    loop(
      get(L.W), get(T.R), get(L.CG), mul, get(L.KH), mul, get(L.KW), mul, i32(4), mul, add, set(T.WP),
      get(L.B), get(T.R), i32(4), mul, add, load32Splat(0), set(V.BIAS),
      outputs,
      inc(T.R, i32(1)), get(T.N), i32(1), sub, tee(T.N), brIf(0),
    ),
    inc(T.U, i32(1)), get(T.U), get(T.END), ltS, brIf(0),
  );
  const body = cat(setup, block(get(COUNT), i32(1), ltS, brIf(0), loop(unit)));
  return { name: "conv2d", params: 4, locals: [[i32s, I32], [5, V128]], body };
}
