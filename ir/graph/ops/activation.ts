// Activations that ONNX has as single ops in recent opsets (Gelu, opset 20).

import type { OpDef } from "../op-def.js";
import type { Dim } from "../../symbolic.js";
import { mulDims } from "../../symbolic.js";
import { FLOATS, checkDType, defineOp, inputType, numel } from "./util.js";

export const ACTIVATION_OPS: readonly OpDef[] = [
  defineOp({
    op: "Gelu", doc: "Gelu(x) = x * Phi(x); approximate = \"tanh\" uses the tanh form.", inputs: [1, 1],
    attrs: { approximate: { type: "string", default: "none", oneOf: ["none", "tanh"] } },
    infer(ctx) {
      const t = inputType(ctx, 0, "X");
      checkDType(t.dtype, FLOATS, "X");
      return { types: [t] };
    },
    cost: (_, [out]) => ({ flops: out?.shape ? mulDims(8, numel(out.shape as Dim[])) : 0 }),
  }),
];
