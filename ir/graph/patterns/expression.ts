// Matching an expression (ir/graph/ops/activation-expressions.ts: an op and its
// operands, names for the values it reads) against the nodes that write a
// value, with the Matcher: names bound consistently, Add and Mul operands
// either way round, every alternative tried (what a failed one claimed is
// released).

import type { Node } from "../graph.js";
import type { Expr } from "../ops/activation-expressions.js";
import { COMMUTATIVE } from "../ops/activation-expressions.js";
import type { Matcher } from "./pattern.js";

export type Bound = ReadonlyMap<string, string>;

/**
 * `expr` written by the nodes that define `value` (by `at` itself where given: the root),
 * extending `bound`; `then` continues with the names bound, and its first result wins.
 */
export function matchExpression<T>(m: Matcher, expr: Expr, value: string, bound: Bound, at: Node | undefined,
  then: (bound: Bound) => T | undefined): T | undefined {
  if (typeof expr === "string") {
    const seen = bound.get(expr);
    if (seen === undefined) return then(new Map([...bound, [expr, value]]));
    return seen === value ? then(bound) : undefined;
  }
  const op = expr[0], operands = expr.slice(1);
  return m.first(() => {
    const node = at ?? m.def(value, op);
    if (!node || node.op !== op || node.domain !== "" || node.inputs.length !== operands.length || node.outputs.length !== 1) return undefined;
    const orders = COMMUTATIVE.has(op) && operands.length === 2 ? [[0, 1], [1, 0]] : [operands.map((_, k) => k)];
    // Operand k of the expression is the node's input order[k].
    const from = (order: readonly number[], k: number, state: Bound): T | undefined => (k === operands.length
      ? then(state)
      : matchExpression(m, operands[k]!, node.inputs[order[k]!]!, state, undefined, (next) => from(order, k + 1, next)));
    return m.first(...orders.map((order) => () => from(order, 0, bound)));
  });
}
