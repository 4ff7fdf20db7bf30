// What a fusion pattern is, and the matcher it walks the graph with.
//
// A pattern is data: a name, the op of the node it is rooted at, a match
// function that walks producers from the root and returns bindings, and a build
// function that turns the bindings into the fused node. The matcher records
// every node a match walks through (its interior); its users (the compiler's
// fusion driver, compiler/fusion/driver.ts, and the reference interpreter's
// fused steps, targets/reference/fusion/pattern-step.ts) only apply a match when
// no interior value other than the root's outputs is read outside the match or
// is a graph output, so fusing never changes what any other node sees. It lives
// in ir/ so that both may import it.

import type { Attrs, Graph, Node, TensorType } from "../graph.js";
import { attrInt, producersOf, usersOf } from "../graph.js";
import type { InferState } from "../infer.js";
import type { SymbolicValue } from "../op-def.js";
import { dtypeFromOnnx } from "../../dtype.js";
import type { Dim } from "../../symbolic.js";
import type { Tensor } from "../../tensor.js";
import { valuesAsNumbers } from "../../tensor.js";
import { COMPOSITE_DOMAIN } from "../ops/decompose.js";

export interface FusionPattern<B = unknown> {
  /** What the fusion counts report ("RMSNorm fused: 5"). */
  readonly name: string;
  /** Op type (ai.onnx, or `tierflow.Op` for a composite) of the node the match starts from. */
  readonly root: string;
  match(root: Node, m: Matcher): B | undefined;
  /** The replacement, in order; it defines the root's outputs, and the fused node takes the root's name. */
  build(bindings: B, root: Node): readonly Node[];
}

/** Declare a pattern with typed bindings; the list of patterns holds them type-erased. */
export function definePattern<B>(pattern: FusionPattern<B>): FusionPattern {
  return pattern as FusionPattern;
}

/** Read-only facts about the graph being fused: producers, users, inferred types and known values. */
export interface GraphView {
  readonly graph: Graph;
  producer(value: string): Node | undefined;
  users(value: string): readonly Node[];
  /** Position of a node in the graph's order. */
  position(node: Node): number;
  type(value: string): TensorType | undefined;
  literal(value: string): Tensor | undefined;
  symbolic(value: string): SymbolicValue | undefined;
  isGraphOutput(value: string): boolean;
}

/**
 * The view a match reads: producers, users and positions of `graph`, and the types, literals and
 * symbolic values inference gave (`typeOf` where a caller also takes the graph's declared types).
 */
export function graphView(graph: Graph, state: InferState, typeOf = (v: string) => state.types.get(v)): GraphView {
  const producers = producersOf(graph), users = usersOf(graph);
  const positions = new Map(graph.nodes.map((n, i) => [n, i]));
  const outputs = new Set(graph.outputs);
  return {
    graph,
    producer: (v) => producers.get(v),
    users: (v) => users.get(v) ?? [],
    position: (n) => positions.get(n) ?? -1,
    type: typeOf,
    literal: (v) => state.literals.get(v),
    symbolic: (v) => state.symbolic.get(v),
    isGraphOutput: (v) => outputs.has(v),
  };
}

/** The key a pattern's `root` names a node's op by: the op type, or `domain.op` outside ai.onnx. */
export const rootKey = (node: Node): string => (node.domain === "" ? node.op : `${node.domain}.${node.op}`);

/** A composite (or ONNX) node that replaces `root`: same name, the root's outputs unless given. */
export function fusedNode(root: Node, op: string, inputs: readonly string[], attrs: Attrs = {},
  options: { domain?: string; outputs?: readonly string[] } = {}): Node {
  return { op, domain: options.domain ?? COMPOSITE_DOMAIN, inputs: [...inputs], outputs: [...(options.outputs ?? root.outputs)], attrs, name: root.name };
}

const nearly = (a: number, b: number, tolerance: number) => Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b));

/** One match attempt: walks producers from the root, recording the interior. */
export class Matcher {
  private readonly claimed: Node[] = [];
  private readonly exposedValues: string[] = [];

  constructor(readonly view: GraphView, readonly root: Node) {
    this.claimed.push(root);
  }

  get interior(): readonly Node[] {
    return this.claimed;
  }

  /** Interior outputs that may be read outside the match: they become outputs of the fused node. */
  get exposed(): readonly string[] {
    return this.exposedValues;
  }

  /**
   * The node that defines `value` if it is `op` (domain "" unless `op` is `domain.Op`),
   * looking through Casts to the same dtype (the TorchScript exporter writes many);
   * the node and those Casts join the interior.
   */
  def(value: string | undefined, op: string): Node | undefined {
    return this.defAt(value, op, undefined);
  }

  /** def(), requiring `value` to be output `index` of the node. */
  defAt(value: string | undefined, op: string, index: number | undefined): Node | undefined {
    if (value === undefined || value === "") return undefined;
    const [domain, type] = op.includes(".") ? op.split(".") as [string, string] : ["", op];
    const casts: Node[] = [];
    let node = this.view.producer(value);
    let current = value;
    while (node && op !== "Cast" && this.isNoOpCast(node)) {
      casts.push(node);
      current = node.inputs[0]!;
      node = this.view.producer(current);
    }
    if (!node || node.op !== type || node.domain !== domain) return undefined;
    if (index !== undefined && node.outputs[index] !== current) return undefined;
    for (const n of [...casts, node]) if (!this.claimed.includes(n)) this.claimed.push(n);
    return node;
  }

  /** The value a chain of same-dtype Casts starts from (nothing is claimed). */
  throughCasts(value: string): string {
    for (let node = this.view.producer(value); node && this.isNoOpCast(node); node = this.view.producer(value)) value = node.inputs[0]!;
    return value;
  }

  isNoOpCast(node: Node): boolean {
    if (node.op !== "Cast" || node.domain !== "") return false;
    const to = attrInt(node.attrs, "to");
    const from = this.view.type(node.inputs[0]!)?.dtype;
    return to !== undefined && from !== undefined && dtypeFromOnnx(to) === from;
  }

  /** Add a node to the interior explicitly (one reached without def()). */
  claim(node: Node): void {
    if (!this.claimed.includes(node)) this.claimed.push(node);
  }

  expose(value: string): void {
    if (!this.exposedValues.includes(value)) this.exposedValues.push(value);
  }

  /** The first alternative that matches; what failed ones claimed is released. */
  first<T>(...alternatives: (() => T | undefined)[]): T | undefined {
    for (const alternative of alternatives) {
      const claimed = this.claimed.length, exposed = this.exposedValues.length;
      const result = alternative();
      if (result !== undefined) return result;
      this.claimed.length = claimed;
      this.exposedValues.length = exposed;
    }
    return undefined;
  }

  /** Try both operand orders of a commutative binary node. */
  commute<T>(node: Node, f: (a: string, b: string) => T | undefined): T | undefined {
    const [a, b] = node.inputs as [string, string];
    return this.first(() => f(a, b), () => f(b, a));
  }

  type(value: string): TensorType | undefined {
    return this.view.type(value);
  }

  shape(value: string): readonly Dim[] | undefined {
    return this.view.type(value)?.shape ?? undefined;
  }

  /** A literal with exactly one element (a scalar or [1]), as a number. */
  scalar(value: string | undefined): number | undefined {
    const t = value ? this.view.literal(value) : undefined;
    return t && t.data.length === 1 ? valuesAsNumbers(t)[0] : undefined;
  }

  /** True when `value` is a one-element literal within a relative `tolerance` of `expected`. */
  isScalar(value: string | undefined, expected: number, tolerance = 1e-6): boolean {
    const v = this.scalar(value);
    return v !== undefined && nearly(v, expected, tolerance);
  }

  /** Integer elements of `value`, from a literal or from shape arithmetic. */
  ints(value: string | undefined): number[] | undefined {
    if (value === undefined || value === "") return undefined;
    const literal = this.view.literal(value);
    if (literal) return /^[iu]/.test(literal.dtype) ? valuesAsNumbers(literal) : undefined;
    const sym = this.view.symbolic(value);
    return sym?.every((d) => typeof d === "number") ? (sym as number[]) : undefined;
  }

  isConstant(value: string): boolean {
    return this.view.graph.constants.has(value);
  }

  /** True when every reader of `value` is one of `nodes` (and it is not a graph output). */
  usedOnlyBy(value: string, ...nodes: Node[]): boolean {
    return !this.view.isGraphOutput(value) && this.view.users(value).every((u) => nodes.includes(u));
  }
}

/** Reduction axes of a Reduce* node (attribute or input); undefined when not known. */
export function reduceAxes(node: Node, m: Matcher): number[] | undefined {
  const attr = node.attrs.axes;
  if (attr?.type === "ints") return [...attr.value];
  return m.ints(node.inputs[1]);
}

/** True when `axes` is exactly the last axis of a tensor of rank `rank`. */
export function isLastAxis(axes: readonly number[] | undefined, rank: number | undefined): boolean {
  return axes?.length === 1 && rank !== undefined && (axes[0] === -1 || axes[0] === rank - 1);
}
