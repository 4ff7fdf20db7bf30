// Just enough of the WebAssembly binary format to emit small modules from
// TypeScript: LEB128 numbers, sections, and the instructions the GEMM kernel
// (gemm-wasm.ts) and the float32 elementwise kernels (simd-wasm.ts) use.
// Opcodes are from the WebAssembly core and SIMD specs.

export type Code = number[];

export function uleb(n: number): Code {
  const out: Code = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): Code {
  const out: Code = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

export const vec = (items: readonly Code[]): Code => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: Code): Code => [id, ...uleb(body.length), ...body];
export const utf8 = (s: string): Code => vec([...new TextEncoder().encode(s)].map((b) => [b]));
export const cat = (...parts: readonly Code[]): Code => parts.flat();

export const I32 = 0x7f, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;

// Control and locals.
export const block = (...body: Code[]): Code => [0x02, 0x40, ...body.flat(), 0x0b];
export const loop = (...body: Code[]): Code => [0x03, 0x40, ...body.flat(), 0x0b];
export const ifElse = (then: Code, otherwise: Code): Code => [0x04, 0x40, ...then, 0x05, ...otherwise, 0x0b];
export const brIf = (depth: number): Code => [0x0d, ...uleb(depth)];
export const br = (depth: number): Code => [0x0c, ...uleb(depth)];
export const get = (local: number): Code => [0x20, ...uleb(local)];
export const set = (local: number): Code => [0x21, ...uleb(local)];
export const tee = (local: number): Code => [0x22, ...uleb(local)];
export const select: Code = [0x1b];

// i32 arithmetic.
export const i32 = (n: number): Code => [0x41, ...sleb(n)];
export const eqz: Code = [0x45], ltS: Code = [0x48], gtS: Code = [0x4a], leS: Code = [0x4c];
export const add: Code = [0x6a], sub: Code = [0x6b], mul: Code = [0x6c];
export const shl: Code = [0x74], shrS: Code = [0x75], i32And: Code = [0x71];

/**
 * Loop over the elements counted by local N (an i32, decremented by 4 per vector; nothing
 * when N <= 0). `step(k)` is the code for k vectors at byte offsets 0, 16, ..., 16(k - 1)
 * from its pointers, which it then advances by 16k. step(unroll) runs while at least
 * 4 * unroll elements remain, then step(1) for the rest (a last partial vector included).
 * Why unroll: one vector's chain of dependent operations leaves the core's schedulers
 * waiting; several independent chains keep them busy (exp ran about 2x faster unrolled by 4).
 */
export function vectorLoop(N: number, step: (vectors: number) => Code, unroll = 1): Code {
  const one = block(get(N), i32(0), leS, brIf(0), loop(step(1), get(N), i32(4), sub, tee(N), i32(0), gtS, brIf(0)));
  if (unroll <= 1) return one;
  const wide = block(loop(get(N), i32(4 * unroll), ltS, brIf(1), step(unroll), get(N), i32(4 * unroll), sub, set(N), br(0)));
  return cat(wide, one);
}

// Scalar float memory and conversion (memory immediates: log2(alignment), offset).
export const f64Load: Code = [0x2b, 3, 0], f32Store: Code = [0x38, 2, 0], f32DemoteF64: Code = [0xb6];
export const f32Load: Code = [0x2a, 2, 0], f32Max: Code = [0x97], f64AddScalar: Code = [0xa0];
export const f64Store: Code = [0x39, 3, 0];
/** Scalar loads and stores at a constant byte offset from the address on the stack. */
export const f32LoadAt = (offset: number): Code => [0x2a, 2, ...uleb(offset)];
export const i32LoadAt = (offset: number): Code => [0x28, 2, ...uleb(offset)];
export const f64LoadAt = (offset: number): Code => [0x2b, 3, ...uleb(offset)];
export const f64StoreAt = (offset: number): Code => [0x39, 3, ...uleb(offset)];

// SIMD (prefix 0xfd); memory immediates are log2(alignment) and a byte offset.
const simd = (op: number, ...imm: number[]): Code => [0xfd, ...uleb(op), ...imm];
export const v128Load = (offset: number): Code => simd(0x00, 4, ...uleb(offset));
export const v128Store = (offset: number): Code => simd(0x0b, 4, ...uleb(offset));
export const load32Splat = (offset: number): Code => simd(0x09, 2, ...uleb(offset));
export const load64Splat = (offset: number): Code => simd(0x0a, 3, ...uleb(offset));
export const v128Zero: Code = simd(0x0c, ...new Array<number>(16).fill(0));
export const f64x2PromoteLowF32x4: Code = simd(0x5f);
export const f64x2Add: Code = simd(0xf0), f64x2Mul: Code = simd(0xf2);
/** A v128 constant of four float32 lanes equal to `x`. */
export const f32x4Const = (x: number): Code => simd(0x0c, ...new Uint8Array(new Float32Array([x, x, x, x]).buffer));
export const f32x4Splat: Code = simd(0x13);
export const f32x4ExtractLane = (lane: number): Code => simd(0x1f, lane);
export const f32x4ReplaceLane = (lane: number): Code => simd(0x20, lane);
export const f64x2ExtractLane = (lane: number): Code => simd(0x21, lane);
/** i8x16.shuffle: byte i of the result is byte lanes[i] of (first ++ second). */
export const i8x16Shuffle = (lanes: readonly number[]): Code => simd(0x0d, ...lanes);
export const f32x4Nearest: Code = simd(0x6a);
export const f32x4Add: Code = simd(0xe4), f32x4Sub: Code = simd(0xe5), f32x4Mul: Code = simd(0xe6), f32x4Div: Code = simd(0xe7);
export const f32x4Min: Code = simd(0xe8), f32x4Max: Code = simd(0xe9);
/** Pseudo-minimum and -maximum: pmin(a, b) = b < a ? b : a, pmax(a, b) = a < b ? b : a (one instruction each on x64). */
export const f32x4Pmin: Code = simd(0xea), f32x4Pmax: Code = simd(0xeb);
export const f32x4Eq: Code = simd(0x41), v128And: Code = simd(0x4e);
export const i32x4Shl: Code = simd(0xab), i32x4ShrS: Code = simd(0xac), i32x4Add: Code = simd(0xae), i32x4Sub: Code = simd(0xb1);
export const i32x4TruncSatF32x4S: Code = simd(0xf8);

export interface WasmFunction {
  readonly name: string;
  readonly params: number;
  readonly locals: readonly [count: number, type: number][];
  readonly body: Code;
}

/** A module that imports one shared memory as env.mem and exports i32-parameter, no-result functions. */
export function moduleBytes(memoryPages: number, functions: readonly WasmFunction[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...vec(new Array<Code>(f.params).fill([I32])), 0]);
  const shared = 0x03; // limits flags: has maximum, shared
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec(types)),
    ...section(2, vec([[...utf8("env"), ...utf8("mem"), 0x02, shared, ...uleb(memoryPages), ...uleb(memoryPages)]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...utf8(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(functions.map((f) => {
      const code = [...vec(f.locals.map(([count, type]) => [...uleb(count), type])), ...f.body, 0x0b];
      return [...uleb(code.length), ...code];
    }))),
  ]);
}
