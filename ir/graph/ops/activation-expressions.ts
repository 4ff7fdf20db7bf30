// Activation functions as exporters write them, node by node: patterns as
// data. Each is an expression over float32 tensors of one shape (`inputs`)
// and single values (`constants`), the graph's own values (0.5, sqrt(2/pi)...)
// rather than assumed ones. Each is an exact composite (composite-exact-
// activation.ts: its decomposition is the expression's nodes); the reference
// interpreter's pattern (ir/graph/patterns/activation-exact.ts) finds the nodes
// by matching the expression (Add and Mul either way round), and the reference
// backend's activation-wasm.ts compiles the same expression into one SIMD
// pass: each node's float32 rounding in turn, and Sigmoid, Tanh and Erf with
// the bits of their own kernels.

/** An input or constant by name, or [op, operands...]. */
export type Expr = string | OpExpr;
export interface OpExpr extends ReadonlyArray<Expr> {
  readonly 0: string;
}

export interface ActivationPattern {
  /** The SIMD kernel's name for it, and what profiles call its fused step. */
  readonly name: string;
  /** The exact composite it is (domain tierflow.exact). */
  readonly op: string;
  readonly inputs: readonly string[];
  readonly constants: readonly string[];
  readonly expr: Expr;
}

export const ACTIVATIONS: readonly ActivationPattern[] = [
  // GPT-2's tanh GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), x^3 a Pow node before it.
  {
    name: "gelu_tanh", op: "GeluTanh", inputs: ["x", "cube"], constants: ["half", "k", "c", "one"],
    expr: ["Mul", ["Mul", "x", "half"], ["Add", ["Tanh", ["Mul", ["Add", "x", ["Mul", "cube", "k"]], "c"]], "one"]],
  },
  // BERT's erf GELU: x (erf(x / sqrt 2) + 1) / 2.
  { name: "gelu_erf", op: "GeluErf", inputs: ["x"], constants: ["root2", "one", "half"], expr: ["Mul", ["Mul", "x", ["Add", ["Erf", ["Div", "x", "root2"]], "one"]], "half"] },
  // Llama's gated SiLU: gate sigmoid(gate) times up.
  { name: "silu_gate", op: "SiLUGate", inputs: ["gate", "up"], constants: [], expr: ["Mul", ["Mul", "gate", ["Sigmoid", "gate"]], "up"] },
];

/** Ops whose operands may come either way round (float32 + and * commute exactly). */
export const COMMUTATIVE: ReadonlySet<string> = new Set(["Add", "Mul"]);
