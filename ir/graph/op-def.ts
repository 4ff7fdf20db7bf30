// The shape of one entry in the graph-level op table: an op's semantics (arity,
// attributes, type inference, cost, decomposition, documentation). Everything
// that needs to know about an op (importer, printer/parser, verifier, shape
// inference, cost analysis) reads it from here; the kernels that execute ops
// live with the reference backend, in a table under the same key.

import type { Attr, AttrType, Attrs, Node, TensorType } from "./graph.js";
import type { Dim } from "../symbolic.js";
import type { Tensor } from "../tensor.js";

export interface AttrSpec {
  readonly type: AttrType;
  /** Value used when the attribute is absent; absent and no default means optional. */
  readonly default?: Attr["value"];
  readonly required?: boolean;
  /** For string attributes: the accepted values. */
  readonly oneOf?: readonly string[];
}

/**
 * A small int tensor's elements as dims (shape arithmetic): what ONNX calls
 * data propagation. Lets `Shape -> Gather -> Concat -> Reshape` chains resolve
 * to symbolic shapes without knowing the symbols' values.
 */
export type SymbolicValue = readonly Dim[];

export interface InferInput {
  readonly type: TensorType | undefined;
  /** Concrete value when the input is a literal constant. */
  readonly value: Tensor | undefined;
  /** Elements as dims when known through shape arithmetic (int tensors of rank <= 1). */
  readonly symbolic: SymbolicValue | undefined;
}

export interface InferResult {
  readonly types: readonly TensorType[];
  readonly symbolic?: readonly (SymbolicValue | undefined)[];
}

export interface InferContext {
  readonly inputs: readonly (InferInput | undefined)[];
  readonly attrs: Attrs;
  readonly opset: number;
  readonly outputCount: number;
  /** A new symbol for a dim nothing determines (data-dependent sizes). */
  fresh(hint: string): string;
}

/**
 * What an expansion (OpDef.expand) knows about the values its node reads, from
 * type inference over the graph as imported.
 */
export interface ExpandContext {
  type(name: string): TensorType | undefined;
  /** The elements of a small int value, when a literal or shape arithmetic gives them. */
  elements(name: string): SymbolicValue | undefined;
}

/** Work of one node: FLOPs as a dim expression in the graph's symbols. */
export interface OpCost {
  readonly flops: Dim;
}

export interface OpDef {
  readonly op: string;
  readonly domain: string;
  readonly inputs: { readonly min: number; readonly max: number };
  readonly outputs: { readonly min: number; readonly max: number };
  readonly attrs: Readonly<Record<string, AttrSpec>>;
  readonly doc: string;
  /** Check input types and compute output types (throw TierflowError when inconsistent). */
  infer(ctx: InferContext): InferResult;
  readonly cost?: (inputs: readonly (TensorType | undefined)[], outputs: readonly TensorType[], attrs: Attrs) => OpCost;
  /**
   * Composite ops only: the primitive nodes that compute the same outputs from
   * the same inputs. Executable documentation, and what the reference backend runs.
   */
  readonly decompose?: (node: Node) => Node[];
  /**
   * Ops of other domains that `expand-ops` rewrites on import into tierflow's own ops,
   * composites included (an attention op becomes one tierflow.Attention with the reshapes,
   * cache concatenations and masks around it), so it is not a decomposition into primitives:
   * the op's reference kernel is a direct one, and this the graph-level form. It may read the
   * inferred types of the node's inputs (head sizes, head counts) and refuses, by name,
   * what it cannot write exactly.
   */
  readonly expand?: (node: Node, ctx: ExpandContext) => Node[];
}
