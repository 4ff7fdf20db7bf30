// Walk a graph in order and run each op's type inference, carrying literal
// values and symbolic shape values forward. Used by the infer-shapes pass
// (which records the results) and by the verifier (which compares them).

import type { Graph, Node, TensorType } from "./graph.js";
import type { InferInput, InferResult, SymbolicValue } from "./op-def.js";
import { checkArity, checkAttrs, opOf } from "./ops.js";
import { withLocation } from "../diagnostics.js";
import { dimsKey, Interner } from "../interning.js";
import type { Tensor } from "../tensor.js";
import { valuesAsNumbers } from "../tensor.js";

export interface InferState {
  readonly types: Map<string, TensorType>;
  readonly literals: Map<string, Tensor>;
  readonly symbolic: Map<string, SymbolicValue>;
}

const FRESH = /^unk__(\d+)$/;

/** Fresh symbols continue after any unk__N already in the graph, so names never collide. */
function freshSymbols(graph: Graph): (hint: string) => string {
  let next = 0;
  for (const t of graph.types.values()) {
    for (const d of t.shape ?? []) {
      const m = typeof d === "string" ? FRESH.exec(d) : null;
      if (m) next = Math.max(next, Number(m[1]) + 1);
    }
  }
  return () => `unk__${next++}`;
}

export function initialState(graph: Graph): InferState {
  const types = new Map<string, TensorType>();
  const literals = new Map<string, Tensor>();
  const symbolic = new Map<string, SymbolicValue>();
  for (const name of graph.inputs) {
    const t = graph.types.get(name);
    if (t) types.set(name, t);
  }
  for (const [name, c] of graph.constants) {
    if (c.kind === "literal") {
      literals.set(name, c.tensor);
      types.set(name, { dtype: c.tensor.dtype, shape: [...c.tensor.dims] });
      if (c.tensor.dims.length <= 1 && c.tensor.data.length <= 64 && /^[iu]/.test(c.tensor.dtype)) {
        symbolic.set(name, valuesAsNumbers(c.tensor));
      }
    } else {
      types.set(name, { dtype: c.dtype, shape: [...c.dims] });
    }
  }
  return { types, literals, symbolic };
}

/** Infer one node's outputs from the state; checks arity and attributes first. */
export function inferNode(node: Node, state: InferState, opset: number, fresh: (hint: string) => string): InferResult {
  return withLocation({ node: node.name }, () => {
    const def = opOf(node);
    checkArity(def, node.inputs.length, node.outputs.length);
    checkAttrs(def, node.attrs);
    const inputs: (InferInput | undefined)[] = node.inputs.map((name) =>
      name === "" ? undefined : { type: state.types.get(name), value: state.literals.get(name), symbolic: state.symbolic.get(name) });
    return def.infer({ inputs, attrs: node.attrs, opset, outputCount: node.outputs.length, fresh });
  });
}

export function recordResult(node: Node, result: InferResult, state: InferState): void {
  node.outputs.forEach((out, i) => {
    if (out === "") return;
    const t = result.types[i];
    if (t) state.types.set(out, t);
    const sym = result.symbolic?.[i];
    if (sym) state.symbolic.set(out, sym);
  });
}

/** Run inference over the whole graph, calling `visit` with each node's result. */
export function inferGraph(graph: Graph, opset: number, visit?: (node: Node, result: InferResult, state: InferState) => void): InferState {
  const state = initialState(graph);
  const fresh = freshSymbols(graph);
  for (const node of graph.nodes) {
    const result = inferNode(node, state, opset, fresh);
    visit?.(node, result, state);
    recordResult(node, result, state);
  }
  return state;
}

/**
 * The types an inference run gave the graph's inputs, constants and node outputs, in that
 * order. Values of one type share one type object: a large graph holds as many as it has
 * distinct types.
 */
export function inferredTypes(graph: Graph, state: InferState): Map<string, TensorType> {
  const types = new Map<string, TensorType>();
  const shared = new Interner<TensorType>(typeKey);
  let last: TensorType | undefined; // a node's type is often its producer's: compared before a key is built
  const add = (name: string) => {
    const t = state.types.get(name);
    if (name === "" || !t) return;
    if (!last || !sameType(t, last)) last = shared.intern(t);
    types.set(name, last);
  };
  for (const name of graph.inputs) add(name);
  for (const name of graph.constants.keys()) add(name);
  for (const node of graph.nodes) for (const out of node.outputs) add(out);
  return types;
}

/** Equal dtypes and equal shapes (both of unknown rank, or the same dims); false when either is missing. */
export function sameType(a: TensorType | undefined, b: TensorType | undefined): boolean {
  if (!a || !b || a.dtype !== b.dtype) return false;
  if (!a.shape || !b.shape) return a.shape === b.shape;
  if (a.shape.length !== b.shape.length) return false;
  for (let i = 0; i < a.shape.length; i++) if (a.shape[i] !== b.shape[i]) return false;
  return true;
}

const typeKey = (t: TensorType): string => `${t.dtype}[${t.shape === null ? "*" : dimsKey(t.shape)}]`;
