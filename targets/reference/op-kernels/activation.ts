// Reference kernels of the activations ONNX has as single ops (Gelu, opset 20;
// ir/graph/ops/activation.ts).

import { stringAttr } from "../../../ir/graph/ops/util.js";
import { unaryOp } from "../kernels/pointwise.js";
import { erf } from "../kernels/math.js";
import type { OpKernel } from "./op-kernel.js";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Gelu of one value (the kernel is UNARY_OPS.Gelu / GeluTanh in kernels/pointwise.ts, the same formulas). */
export function gelu(x: number, approximate: string): number {
  if (approximate === "tanh") return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export const ACTIVATION_KERNELS: Readonly<Record<string, OpKernel>> = {
  Gelu: ([x], { attrs }) => {
    const approximate = stringAttr(attrs, "approximate", "none");
    return [unaryOp(approximate === "tanh" ? "GeluTanh" : "Gelu", x!)];
  },
};
