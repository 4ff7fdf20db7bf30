// The activations as the reference interpreter runs them (INTERPRETER_PATTERNS):
// GPT-2's and BERT's GELUs and Llama's gated SiLU, each matched as its
// expression exactly as the exporters associate it (ir/graph/ops/
// activation-expressions.ts) and built as the exact composite of that name
// (tierflow.exact.GeluTanh, GeluErf, SiLUGate), the graph's constants as
// inputs: one SIMD pass with every node's rounding. The graph patterns
// (activation.ts) take any association and build ops that round otherwise.

import type { FusionPattern } from "./pattern.js";
import { definePattern, fusedNode } from "./pattern.js";
import { EXACT_DOMAIN } from "../ops/exact.js";
import type { ActivationPattern } from "../ops/activation-expressions.js";
import { ACTIVATIONS } from "../ops/activation-expressions.js";
import { matchExpression } from "./expression.js";

/** The pattern of one activation, named as profiles call its step. */
function activationPattern(activation: ActivationPattern): FusionPattern {
  const names = [...activation.inputs, ...activation.constants];
  return definePattern<string[]>({
    name: activation.name, root: typeof activation.expr === "string" ? "" : activation.expr[0],
    match: (root, m) => matchExpression(m, activation.expr, root.outputs[0] ?? "", new Map(), root, (bound) => names.map((n) => bound.get(n)!)),
    build: (inputs, root) => [fusedNode(root, activation.op, inputs, {}, { domain: EXACT_DOMAIN })],
  });
}

export const ACTIVATIONS_EXACT: readonly FusionPattern[] = ACTIVATIONS.map(activationPattern);
