// What the fusions share (fusions.ts lists them): the step a fusion produces,
// how it finds a pattern's nodes (a value's sole producer, Casts to float32,
// an expression matched node by node), and how it runs them one by one where
// its kernel does not apply.

import type { Graph, Node } from "../../../ir/graph/graph.js";
import type { KernelContext } from "../op-kernels/op-kernel.js";
import type { Tensor } from "../../../ir/tensor.js";
import { intAttr, intsAttr } from "../../../ir/graph/ops/util.js";
import { matmulStrided, permutedView } from "../kernels/matmul.js";
import type { StridedOperand } from "../kernels/matmul.js";
import { COMMUTATIVE } from "../kernels/activation-patterns.js";
import type { Expr } from "../kernels/activation-patterns.js";

export type Kernel = (inputs: readonly (Tensor | undefined)[], ctx: KernelContext) => Tensor[];

export interface Step {
  /** The node whose outputs the step writes (its name and op label profiles and errors). */
  readonly node: Node;
  readonly inputs: readonly string[];
  readonly kernel: Kernel;
  readonly ctx: KernelContext;
  /** What profiles call a fused step whose work is more than its node's op (Attention); else the node's op. */
  readonly label?: string;
  /** For a fused step, the names of all the nodes it runs, in graph order (profiles report them). */
  readonly covers?: readonly string[];
}

/** Which node writes each value, and which nodes read it. */
export interface Uses {
  readonly producer: ReadonlyMap<string, number>;
  readonly readers: ReadonlyMap<string, readonly number[]>;
}

export interface Fusion {
  readonly name: string;
  /** For node i: the indices of the nodes it absorbs (run before it, used only by it), its inputs and kernel; or undefined. */
  readonly match: (graph: Graph, i: number, uses: Uses, steps: readonly Step[]) => { absorbs: number[]; step: Step } | undefined;
}

/** The node writing `value` when it is read by that one node only and is not a graph output. */
export function soleProducer(graph: Graph, value: string, { producer, readers }: Uses, steps: readonly Step[]): [number, Step] | undefined {
  const p = producer.get(value);
  const step = p === undefined ? undefined : steps[p];
  if (!step || step.node.domain || step.node.outputs.length !== 1 || graph.outputs.includes(value) || readers.get(value)?.length !== 1) return undefined;
  return [p!, step];
}

/** The node writing `value`, read by that one node only, when its op is `op`. */
export function soleOp(graph: Graph, value: string, op: string, uses: Uses, steps: readonly Step[]): [number, Step] | undefined {
  const p = soleProducer(graph, value, uses, steps);
  return p && p[1].node.op === op ? p : undefined;
}

export const FLOAT = 1; // TensorProto.FLOAT, Cast's `to`

/** Casts to float32 that end at `value`, in reading order, and the value they start from; undefined if a Cast is to another type. */
export function floatCasts(graph: Graph, value: string, uses: Uses, steps: readonly Step[]): { casts: [number, Step][]; from: string } | undefined {
  const casts: [number, Step][] = [];
  for (let c = soleOp(graph, value, "Cast", uses, steps); c; c = soleOp(graph, value, "Cast", uses, steps)) {
    if (intAttr(c[1].node.attrs, "to", 0) !== FLOAT) return undefined;
    casts.unshift(c);
    value = c[1].node.inputs[0]!;
  }
  return { casts, from: value };
}

/** x as `transpose` (a Transpose step, or none) would write it, as a strided view; undefined for an invalid perm (the node reports it). */
export function transposedView(x: Tensor, transpose: Step | undefined): StridedOperand | undefined {
  const rank = x.dims.length;
  const perm = transpose ? intsAttr(transpose.ctx.attrs, "perm") ?? [...Array(rank).keys()].reverse() : [...Array(rank).keys()];
  const valid = perm.length === rank && perm.every((p, j) => perm.indexOf(p) === j && p >= 0 && p < rank);
  return valid ? permutedView(x, perm) : undefined;
}

/** x transposed by its step (when it has one), materialised. */
export const materialised = (x: Tensor, transpose: Step | undefined): Tensor => (transpose ? transpose.kernel([x], transpose.ctx)[0]! : x);

/** MatMul of two operands, each perhaps transposed first, as transpose-matmul runs it. */
export function matmulOfViews(mm: Step, args: readonly Tensor[], transposes: readonly (Step | undefined)[]): Tensor {
  const [a, b] = args.map((x, k) => transposedView(x, transposes[k]));
  const fused = a && b ? matmulStrided(a, b) : undefined;
  return fused ?? mm.kernel(args.map((x, k) => materialised(x, transposes[k])), mm.ctx)[0]!;
}

/** An activation's nodes as matched: each op of the expression with its step and operands in the node's input order. */
export type Matched = { readonly leaf: string } | { readonly index: number; readonly step: Step; readonly operands: readonly Matched[] };

/**
 * Every way `expr` matches the node writing `value` (the anchor at the root, else a sole
 * producer), names bound consistently; Add and Mul may have their operands either way round.
 */
export function* matchExpr(graph: Graph, expr: Expr, value: string, root: number | undefined, uses: Uses, steps: readonly Step[],
  bound: ReadonlyMap<string, string>): Generator<{ matched: Matched; bound: ReadonlyMap<string, string> }> {
  if (typeof expr === "string") {
    const seen = bound.get(expr);
    if (seen === undefined) yield { matched: { leaf: expr }, bound: new Map([...bound, [expr, value]]) };
    else if (seen === value) yield { matched: { leaf: expr }, bound };
    return;
  }
  const op = expr[0], operands = expr.slice(1);
  const found = root === undefined ? soleOp(graph, value, op, uses, steps) : steps[root]!.node.op === op ? [root, steps[root]!] as const : undefined;
  if (!found || found[1].node.domain || found[1].node.inputs.length !== operands.length || found[1].node.outputs.length !== 1) return;
  const [index, step] = found;
  const orders = COMMUTATIVE.has(op) && operands.length === 2 ? [[0, 1], [1, 0]] : [operands.map((_, k) => k)];
  for (const order of orders) {
    // Operand k is the node's input order[k]; subs are kept in the node's input order.
    function* from(k: number, state: ReadonlyMap<string, string>, subs: readonly Matched[]): Generator<{ matched: Matched; bound: ReadonlyMap<string, string> }> {
      if (k === operands.length) {
        yield { matched: { index, step, operands: order.map((_, j) => subs[order.indexOf(j)]!) }, bound: state };
        return;
      }
      for (const m of matchExpr(graph, operands[k]!, step.node.inputs[order[k]!]!, undefined, uses, steps, state)) yield* from(k + 1, m.bound, [...subs, m.matched]);
    }
    yield* from(0, bound, []);
  }
}

export const indicesOf = (m: Matched): number[] => ("leaf" in m ? [] : [m.index, ...m.operands.flatMap(indicesOf)]);

/** The nodes of a match run one by one, leaves from `args`. */
export function evaluate(m: Matched, args: ReadonlyMap<string, Tensor>): Tensor {
  if ("leaf" in m) return args.get(m.leaf)!;
  return m.step.kernel(m.operands.map((o) => evaluate(o, args)), m.step.ctx)[0]!;
}

/**
 * A fusion that matches `expr` at its root and runs `kernel` on the values its names bound
 * (in `names` order), or where that gives undefined, the matched nodes one by one.
 */
export function expressionFusion(name: string, expr: Expr, names: readonly string[], label: string,
  kernel: (byName: ReadonlyMap<string, Tensor>, steps: readonly Step[]) => Tensor | undefined): Fusion {
  return {
    name,
    match(graph, i, uses, steps) {
      const m = matchExpr(graph, expr, steps[i]!.node.outputs[0] ?? "", i, uses, steps, new Map()).next().value;
      if (!m) return undefined;
      const inputs = names.map((n) => m.bound.get(n)!), matched = indicesOf(m.matched);
      const absorbs = matched.filter((j) => j !== i);
      // A value the pattern writes cannot also be one it reads (a node reading it twice).
      if (absorbs.some((j) => steps[j]!.node.outputs.some((o) => inputs.includes(o)))) return undefined;
      const matchedSteps = matched.map((j) => steps[j]!);
      const run: Kernel = (args) => {
        const byName = new Map(names.map((n, k) => [n, args[k] as Tensor]));
        return [kernel(byName, matchedSteps) ?? evaluate(m.matched, byName)];
      };
      return { absorbs, step: { node: steps[i]!.node, inputs, kernel: run, ctx: steps[i]!.ctx, label } };
    },
  };
}
