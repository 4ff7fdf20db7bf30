// The activation patterns (ir/graph/ops/activation-expressions.ts) compiled into WebAssembly
// SIMD, one function per pattern: act_<name>(in0, in1, out, n, constants)
// computes the expression over n float32s (in1 unused with one input;
// `constants` the address of their float32 values in order), four at a time.
// Add, Sub, Mul and Div are f32x4 operations, each rounded once as its node's
// result is; Sigmoid, Tanh and Erf widen to float64 lanes and run the code of
// their own SIMD kernels (simd-math-wasm.ts), so every value has the nodes' bits.

import type { Code, WasmFunction } from "./wasm-encode.js";
import { V128, add, cat, f32Load, f32x4Add, f32x4Div, f32x4Mul, f32x4Splat, f32x4Sub, get, i32, set, v128Load, v128Store, vectorLoop } from "./wasm-encode.js";
import { ACTIVATIONS } from "../../../ir/graph/ops/activation-expressions.js";
import type { ActivationPattern, Expr } from "../../../ir/graph/ops/activation-expressions.js";
import { LANE_FUNCTIONS, LANE_SCRATCH, demoteZero, highHalf, lowHalves, promoteLow } from "./simd-math-wasm.js";

const BINARY: Readonly<Record<string, Code>> = { Add: f32x4Add, Sub: f32x4Sub, Mul: f32x4Mul, Div: f32x4Div };

function activation(p: ActivationPattern): WasmFunction {
  const [IN0, IN1, OUT, N, CONSTS] = [0, 1, 2, 3, 4];
  const ins = [5, 6], consts = p.constants.map((_, k) => 7 + k), [T, A, B] = [7 + p.constants.length, 8 + p.constants.length, 9 + p.constants.length];
  const scratch = Array.from({ length: LANE_SCRATCH }, (_, k) => B + 1 + k);
  const value = (e: Expr): Code => {
    if (typeof e === "string") {
      const i = p.inputs.indexOf(e), c = p.constants.indexOf(e);
      if (i < 0 && c < 0) throw new Error(`activation ${p.name}: '${e}' is neither an input nor a constant`);
      return get(i >= 0 ? ins[i]! : consts[c]!);
    }
    const op = e[0], operands = e.slice(1);
    const binary = BINARY[op], lanes = LANE_FUNCTIONS[op as keyof typeof LANE_FUNCTIONS];
    if (binary && operands.length === 2) return cat(value(operands[0]!), value(operands[1]!), binary);
    if (!lanes || operands.length !== 1) throw new Error(`activation ${p.name}: no SIMD code for ${op}/${operands.length}`);
    return cat(
      value(operands[0]!), set(T), get(T), promoteLow, set(A), get(T), get(T), highHalf, promoteLow, set(B),
      lanes(A, scratch), lanes(B, scratch), get(A), demoteZero, get(B), demoteZero, lowHalves,
    );
  };
  const pointers = [IN0, IN1].slice(0, p.inputs.length);
  const step = () => cat(
    ...pointers.map((ptr, i) => cat(get(ptr), v128Load(0), set(ins[i]!))),
    get(OUT), value(p.expr), v128Store(0),
    ...[...pointers, OUT].map((ptr) => cat(get(ptr), i32(16), add, set(ptr))),
  );
  const splats = consts.map((local, k) => cat(get(CONSTS), i32(4 * k), add, f32Load, f32x4Splat, set(local)));
  return { name: `act_${p.name}`, params: 5, locals: [[B + LANE_SCRATCH - 4, V128]], body: cat(...splats, vectorLoop(N, step)) };
}

/** The SIMD module's activation functions, in ACTIVATIONS' order. */
export function activationKernels(): WasmFunction[] {
  return ACTIVATIONS.map(activation);
}
