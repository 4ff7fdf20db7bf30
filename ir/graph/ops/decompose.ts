// Composite ops (domain "tierflow") are defined by their decomposition into
// primitive ONNX nodes. This module builds those node lists; the reference
// backend runs them through its primitive kernels, so a fused graph computes
// exactly what its decomposition says.

import type { Attr, Attrs, Node } from "../graph.js";
import type { OpDef } from "../op-def.js";
import { DTYPES } from "../../dtype.js";
import { tensorFromValues } from "../../tensor.js";
import type { Dim } from "../../symbolic.js";
import { fail } from "../../diagnostics.js";
import { defineOp } from "./util.js";
import { ELEMENTWISE_OPS } from "./elementwise.js";
import { SHAPE_OPS } from "./shape.js";
import { DATA_OPS } from "./data.js";
import { NN_OPS } from "./nn.js";
import { REDUCE_OPS } from "./reduce.js";
import { ACTIVATION_OPS } from "./activation.js";
import { REPEAT_OPS } from "./repeat.js";
import { QUANT_OPS } from "./quant.js";

export const COMPOSITE_DOMAIN = "tierflow";

/**
 * Decompositions are written against this ONNX opset: Softmax over one axis,
 * Split with num_outputs, Reduce* axes as an input, blocked DequantizeLinear.
 */
export const DECOMPOSITION_OPSET = 21;

// The primitive families, read directly rather than through ops.ts: ops.ts
// imports the composites (a cycle), and a decomposition must use primitives only.
const PRIMITIVES = new Map<string, OpDef>(
  [...ELEMENTWISE_OPS, ...SHAPE_OPS, ...DATA_OPS, ...NN_OPS, ...REDUCE_OPS, ...ACTIVATION_OPS, ...REPEAT_OPS, ...QUANT_OPS.filter((d) => d.domain === "")]
    .map((d) => [d.op, d]),
);

/** Whether a decomposition may use `op` (of domain ""): a primitive, not a composite or an expanded op. */
export function isPrimitive(op: string): boolean {
  return PRIMITIVES.has(op);
}

/** A primitive op's definition (composites reuse their parts' inference). */
export function lookupPrimitive(op: string): OpDef {
  const def = PRIMITIVES.get(op);
  if (!def) throw new Error(`'${op}' is not a primitive op`);
  return def;
}

export const attr = {
  int: (value: number): Attr => ({ type: "int", value }),
  ints: (value: readonly number[]): Attr => ({ type: "ints", value }),
  float: (value: number): Attr => ({ type: "float", value }),
  string: (value: string): Attr => ({ type: "string", value }),
};

/**
 * Builds the primitive nodes of one decomposition. Intermediate values are
 * named after the composite's first output, so they are unique in any graph.
 */
export class Decomposition {
  readonly nodes: Node[] = [];
  private count = 0;

  constructor(private readonly composite: Node) {}

  private fresh(): string {
    return `${this.composite.outputs[0]}/d${this.count++}`;
  }

  /** A primitive node with `outputs` fresh outputs, or the given names (undefined: fresh); returns its outputs. */
  op(op: string, inputs: readonly string[], attrs: Attrs = {}, outputs: number | readonly (string | undefined)[] = 1): string[] {
    const outs = typeof outputs === "number" ? Array.from({ length: outputs }, () => this.fresh()) : outputs.map((o) => o ?? this.fresh());
    this.nodes.push({ op, domain: "", inputs: [...inputs], outputs: outs, attrs, name: `${this.composite.name}/${op}_${this.nodes.length}` });
    return outs;
  }

  /**
   * A node of tierflow's own domain. Only expansions of imported ops (OpDef.expand) write
   * composites; a decomposition must not (evaluateDecomposition refuses them).
   */
  tierflow(op: string, inputs: readonly string[], attrs: Attrs = {}, outputs: number | readonly (string | undefined)[] = 1): string[] {
    const outs = this.op(op, inputs, attrs, outputs);
    const node = this.nodes.pop()!;
    this.nodes.push({ ...node, domain: COMPOSITE_DOMAIN });
    return outs;
  }

  one(op: string, inputs: readonly string[], attrs: Attrs = {}): string {
    return this.op(op, inputs, attrs)[0]!;
  }

  /** The node that defines the composite's output `index`. */
  result(index: number, op: string, inputs: readonly string[], attrs: Attrs = {}): void {
    this.op(op, inputs, attrs, [this.composite.outputs[index]!]);
  }

  ints(values: readonly number[]): string {
    return this.one("Constant", [], { value: { type: "tensor", value: tensorFromValues("i64", [values.length], values) } });
  }

  /** A scalar in the dtype of `like` (f32 literal, cast with CastLike). */
  scalarLike(value: number, like: string): string {
    return this.one("CastLike", [this.one("Constant", [], { value_float: attr.float(value) }), like]);
  }

  /** Cast to f32, the precision composites keep their statistics in. */
  toF32(x: string): string {
    return this.one("Cast", [x], { to: attr.int(DTYPES.f32.onnx) });
  }
}

type CompositeSpec = Omit<Parameters<typeof defineOp>[0], "domain"> & { decompose(node: Node): Node[] };

/**
 * A composite op: in the tierflow domain, with a decomposition that is its specification
 * (the reference backend runs it, or a direct kernel that computes the same).
 */
export function defineComposite(spec: CompositeSpec): OpDef {
  const { decompose, ...rest } = spec;
  return { ...defineOp({ ...rest, domain: COMPOSITE_DOMAIN }), decompose };
}

/** Shape check shared by composite inference: fail when two dims are both known and differ. */
export function checkDim(actual: Dim, expected: Dim, what: string): void {
  if (typeof actual === "number" && typeof expected === "number" && actual !== expected) fail(`${what} is ${actual}, expected ${expected}`);
}
