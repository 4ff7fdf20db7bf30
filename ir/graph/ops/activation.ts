// Activations that ONNX has as single ops in recent opsets (Gelu, opset 20).

import type { OpDef } from "../op-def.js";
import type { Dim } from "../../symbolic.js";
import { mulDims } from "../../symbolic.js";
import { unaryOp } from "../kernels/pointwise.js";
import { erf } from "../kernels/math.js";
import { FLOATS, checkDType, defineOp, inputType, numel, stringAttr } from "./util.js";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Gelu of one value (the kernel is UNARY_OPS.Gelu / GeluTanh in kernels/pointwise.ts, the same formulas). */
export function gelu(x: number, approximate: string): number {
  if (approximate === "tanh") return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export const ACTIVATION_OPS: readonly OpDef[] = [
  defineOp({
    op: "Gelu", doc: "Gelu(x) = x * Phi(x); approximate = \"tanh\" uses the tanh form.", inputs: [1, 1],
    attrs: { approximate: { type: "string", default: "none", oneOf: ["none", "tanh"] } },
    infer(ctx) {
      const t = inputType(ctx, 0, "X");
      checkDType(t.dtype, FLOATS, "X");
      return { types: [t] };
    },
    kernel: ([x], { attrs }) => {
      const approximate = stringAttr(attrs, "approximate", "none");
      return [unaryOp(approximate === "tanh" ? "GeluTanh" : "Gelu", x!)];
    },
    cost: (_, [out]) => ({ flops: out?.shape ? mulDims(8, numel(out.shape as Dim[])) : 0 }),
  }),
];
