// Float32 elementwise kernels as WebAssembly SIMD (four lanes), emitted from
// TypeScript with wasm-encode.ts; simd.ts runs them. Why: a JavaScript loop
// over Float32Array converts every element to float64 and back, and measured
// here about 4.5 ns an element for a Mul, against about 0.3 ns for copying an
// array in or out of WebAssembly memory and well under that for f32x4 arithmetic.
//
// Binary ops (Add, Sub, Mul, Div, Max, Min) compute exactly what JavaScript
// does: float32 +, -, *, / rounded once are the float64 results rounded to
// float32 (float64 has more than 2 * 24 + 2 bits), and f32x4.min/max treat
// NaN and -0 as Math.min/max do. So these change no answer.
//
// exp and Softmax are in simd-softmax-wasm.ts.
//
// All functions take byte addresses and counts; v128 loads and stores need no
// alignment. A row of n elements is done as ceil(n / 4) vectors, so up to 3
// elements past its end are read and written: callers pad their regions.

import type { Code, WasmFunction } from "./wasm-encode.js";
import { mathKernels } from "./simd-math-wasm.js";
import { normKernels } from "./simd-norm-wasm.js";
import { softmaxKernels } from "./simd-softmax-wasm.js";
import { attentionKernels } from "./attention-wasm.js";
import { rmsNormKernels } from "./rms-norm-wasm.js";
import { activationKernels } from "./activation-wasm.js";
import { conv2dKernel } from "./conv2d-wasm.js";
import { rotaryKernels } from "./rotary-wasm.js";
import {
  V128, add, cat, f32Load, f32x4Add, f32x4Div, f32x4Max, f32x4Min, f32x4Mul, f32x4Splat, f32x4Sub, get, i32, moduleBytes, set, v128Load, v128Store, vectorLoop,
} from "./wasm-encode.js";

/** Bytes of the kernels' memory (fixed; pages are only resident once touched). */
export const SIMD_MEMORY_BYTES = 64 * 1024 * 1024;

export const SIMD_BINARY_OPS = { Add: f32x4Add, Sub: f32x4Sub, Mul: f32x4Mul, Div: f32x4Div, Max: f32x4Max, Min: f32x4Min } as const;
export type SimdBinaryOp = keyof typeof SIMD_BINARY_OPS;
/** Row shapes: both operands step along the row (vv), or one is repeated (vs: b, sv: a). */
export const SIMD_MODES = ["vv", "vs", "sv"] as const;
export type SimdMode = (typeof SIMD_MODES)[number];

/** Advance a byte-address local by `bytes`. */
const advance = (local: number, bytes = 16): Code => cat(get(local), i32(bytes), add, set(local));

/** name(a, b, o, n): o[i] = a[i] op b[i] over n float32s, with a or b repeated per mode. */
function binary(op: SimdBinaryOp, mode: SimdMode): WasmFunction {
  const [A, B, O, N] = [0, 1, 2, 3];
  const S = 4; // v128 local: the repeated operand
  const operand = (local: number, repeated: boolean): Code => (repeated ? get(S) : cat(get(local), v128Load(0)));
  const step = () => cat(
    get(O), operand(A, mode === "sv"), operand(B, mode === "vs"), SIMD_BINARY_OPS[op], v128Store(0),
    mode === "sv" ? [] : advance(A), mode === "vs" ? [] : advance(B), advance(O),
  );
  const splat = mode === "vv" ? [] : cat(get(mode === "vs" ? B : A), f32Load, f32x4Splat, set(S));
  return { name: `${op}_${mode}`, params: 4, locals: [[1, V128]], body: cat(splat, vectorLoop(N, step)) };
}

let functions: WasmFunction[] | undefined;
let names: string[] | undefined;
let bytes: Uint8Array | undefined;

function simdFunctions(): WasmFunction[] {
  functions ??= [
    ...Object.keys(SIMD_BINARY_OPS).flatMap((op) => SIMD_MODES.map((mode) => binary(op as SimdBinaryOp, mode))),
    ...softmaxKernels(), ...mathKernels(), ...normKernels(), ...attentionKernels(), ...rmsNormKernels(), ...activationKernels(), conv2dKernel(), ...rotaryKernels(),
  ];
  return functions;
}

/** The names the module exports, in a fixed order (the worker pool's kernel table lists them after the GEMM's). */
export function simdKernelNames(): readonly string[] {
  names ??= simdFunctions().map((f) => f.name);
  return names;
}

/**
 * The module: `${op}_${mode}` for every binary op and mode, exp, softmax, sigmoid, tanh and erf
 * (simd-math-wasm.ts) and layernorm (simd-norm-wasm.ts); memory imported as env.mem.
 */
export function simdModuleBytes(): Uint8Array {
  bytes ??= moduleBytes(SIMD_MEMORY_BYTES / 65536, simdFunctions());
  return bytes;
}

