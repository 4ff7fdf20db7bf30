// Activations written out elementwise:
//   0.5 * x * (1 + erf(x / sqrt(2)))                          -> Gelu (approximate = "none")
//   0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))   -> Gelu (approximate = "tanh")
//   x * sigmoid(x)                                             -> tierflow.SiLU
//   silu(gate) * up                                            -> tierflow.SwiGLU
// The GELU forms match in any association of the three factors (TorchScript
// writes (x * (1 + erf)) * 0.5, GPT-2's tanh form (0.5 * x) * (1 + tanh)).

import type { Node } from "../graph.js";
import type { Matcher } from "./pattern.js";
import { definePattern, fusedNode } from "./pattern.js";

/** The three factors of a product of two Muls rooted at `root`, offered to `f` (first success wins). */
function threeFactors<T>(m: Matcher, root: Node, f: (factors: readonly string[]) => T | undefined): T | undefined {
  return m.commute(root, (inner, outer) => {
    const mul = m.def(inner, "Mul");
    return mul ? f([mul.inputs[0]!, mul.inputs[1]!, outer]) : undefined;
  });
}

/** 1 + g(z) where g is `op` (Erf or Tanh); returns z. */
function onePlus(m: Matcher, value: string, op: string): string | undefined {
  const add = m.def(value, "Add");
  if (!add) return undefined;
  return m.commute(add, (term, one) => (m.isScalar(one, 1) ? m.def(term, op)?.inputs[0] : undefined));
}

/** c * v (either order) with c a scalar near `c`; returns v. */
function scaledBy(m: Matcher, value: string, c: number, tolerance = 1e-5): string | undefined {
  const mul = m.def(value, "Mul");
  return mul ? m.commute(mul, (v, k) => (m.isScalar(k, c, tolerance) ? v : undefined)) : undefined;
}

/** Given the factor that should hold the erf/tanh term and how to read x out of its argument, check 0.5 and x. */
function geluFactors(m: Matcher, factors: readonly string[], op: string, argumentOf: (z: string) => string | undefined): string | undefined {
  for (let i = 0; i < 3; i++) {
    const found = m.first(() => {
      const z = onePlus(m, factors[i]!, op);
      const x = z !== undefined ? argumentOf(z) : undefined;
      const [a, b] = factors.filter((_, j) => j !== i) as [string, string];
      return x !== undefined && ((a === x && m.isScalar(b, 0.5)) || (b === x && m.isScalar(a, 0.5))) ? x : undefined;
    });
    if (found !== undefined) return found;
  }
  return undefined;
}

export const GELU_ERF = definePattern<{ x: string }>({
  name: "Gelu(erf)", root: "Mul",
  match(root, m) {
    // erf's argument: x / sqrt(2) or x * (1 / sqrt(2)).
    const argumentOf = (z: string) => m.first(
      () => {
        const div = m.def(z, "Div");
        return div && m.isScalar(div.inputs[1], Math.SQRT2, 1e-5) ? div.inputs[0] : undefined;
      },
      () => scaledBy(m, z, Math.SQRT1_2),
    );
    const x = threeFactors(m, root, (factors) => geluFactors(m, factors, "Erf", argumentOf));
    return x !== undefined ? { x } : undefined;
  },
  build: ({ x }, root) => [fusedNode(root, "Gelu", [x], { approximate: { type: "string", value: "none" } }, { domain: "" })],
});

export const GELU_TANH = definePattern<{ x: string }>({
  name: "Gelu(tanh)", root: "Mul",
  match(root, m) {
    // tanh's argument: sqrt(2/pi) * (x + 0.044715 * x^3).
    const argumentOf = (z: string) => {
      const inner = scaledBy(m, z, Math.sqrt(2 / Math.PI));
      const add = inner !== undefined ? m.def(inner, "Add") : undefined;
      return add && m.commute(add, (x, cubic) => {
        const cube = scaledBy(m, cubic, 0.044715);
        const pow = cube !== undefined ? m.def(cube, "Pow") : undefined;
        return pow && pow.inputs[0] === x && m.isScalar(pow.inputs[1], 3) ? x : undefined;
      });
    };
    const x = threeFactors(m, root, (factors) => geluFactors(m, factors, "Tanh", argumentOf));
    return x !== undefined ? { x } : undefined;
  },
  build: ({ x }, root) => [fusedNode(root, "Gelu", [x], { approximate: { type: "string", value: "tanh" } }, { domain: "" })],
});

export const SILU = definePattern<{ x: string }>({
  name: "SiLU", root: "Mul",
  match(root, m) {
    return m.commute(root, (x, s) => (m.def(s, "Sigmoid")?.inputs[0] === x ? { x } : undefined));
  },
  build: ({ x }, root) => [fusedNode(root, "SiLU", [x])],
});

export const SWIGLU = definePattern<{ gate: string; up: string }>({
  name: "SwiGLU", root: "Mul",
  match(root, m) {
    return m.commute(root, (activated, up) => {
      const silu = m.def(activated, "tierflow.SiLU");
      return silu ? { gate: silu.inputs[0]!, up } : undefined;
    });
  },
  build: ({ gate, up }, root) => [fusedNode(root, "SwiGLU", [gate, up])],
});
