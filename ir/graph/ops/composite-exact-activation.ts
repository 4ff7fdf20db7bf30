// Exact composites of the activation expressions (activation-expressions.ts):
// GPT-2's and BERT's GELUs and Llama's gated SiLU as their exporters write
// them, the graph's constants as inputs, decomposed into the expression's
// nodes (see composite-exact.ts).

import type { OpDef } from "../op-def.js";
import type { ActivationPattern, Expr } from "./activation-expressions.js";
import { ACTIVATIONS } from "./activation-expressions.js";
import { Decomposition } from "./decompose.js";
import { defineExact } from "./exact.js";

const written = (e: Expr): string => (typeof e === "string" ? e : `${e[0]}(${e.slice(1).map(written).join(", ")})`);

function activationOp(pattern: ActivationPattern): OpDef {
  const names = [...pattern.inputs, ...pattern.constants];
  return defineExact({
    op: pattern.op, inputs: [names.length, names.length],
    doc: `${pattern.op}(${names.join(", ")}) = ${written(pattern.expr)}: the float32 rounding of each node in turn
  (${pattern.constants.length ? `${pattern.constants.join(", ")} single values, ` : ""}Add and Mul either way round).
  %y = "tierflow.exact".${pattern.op}(${names.map((n) => `%${n}`).join(", ")}) : f32[batch, seq, 128]`,
    decompose(node) {
      const d = new Decomposition(node);
      const emit = (e: Expr, last: boolean): string => {
        if (typeof e === "string") return node.inputs[names.indexOf(e)]!;
        const operands = e.slice(1).map((o) => emit(o, false));
        if (!last) return d.one(e[0], operands);
        d.result(0, e[0], operands);
        return node.outputs[0]!;
      };
      emit(pattern.expr, true);
      return d.nodes;
    },
  });
}

export const EXACT_ACTIVATION_OPS: readonly OpDef[] = ACTIVATIONS.map(activationOp);
