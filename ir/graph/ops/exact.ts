// The exact composites' domain and how one is defined (composite-exact.ts says
// what they are for): a decomposition into the nodes the op replaces, which
// also gives its inference.

import type { Node, TensorType } from "../graph.js";
import type { InferContext, InferInput, OpDef } from "../op-def.js";
import { DECOMPOSITION_OPSET, lookupPrimitive } from "./decompose.js";
import { defineOp } from "./util.js";

/** The domain of ops that round exactly as the exported nodes they replace. */
export const EXACT_DOMAIN = "tierflow.exact";

/** The output types of `decompose(node)` run through its primitives' inference. */
export function inferByDecomposition(ctx: InferContext, op: string, decompose: (node: Node) => Node[]): { types: TensorType[] } {
  const node: Node = {
    op, domain: EXACT_DOMAIN, attrs: ctx.attrs, name: op,
    inputs: ctx.inputs.map((t, i) => (t ? `in${i}` : "")), outputs: Array.from({ length: ctx.outputCount }, (_, i) => `out${i}`),
  };
  const values = new Map<string, InferInput>();
  ctx.inputs.forEach((t, i) => t && values.set(`in${i}`, t));
  for (const n of decompose(node)) {
    const { types } = lookupPrimitive(n.op).infer({
      ...ctx, attrs: n.attrs, opset: DECOMPOSITION_OPSET, outputCount: n.outputs.length,
      inputs: n.inputs.map((v) => (v === "" ? undefined : values.get(v) ?? { type: undefined, value: undefined, symbolic: undefined })),
    });
    n.outputs.forEach((o, i) => values.set(o, { type: types[i], value: undefined, symbolic: undefined }));
  }
  return { types: node.outputs.map((o) => values.get(o)!.type!) };
}

type ExactSpec = Omit<Parameters<typeof defineOp>[0], "domain" | "infer"> & { decompose(node: Node): Node[] };

/** An exact composite: its decomposition defines it and gives its inference. */
export function defineExact(spec: ExactSpec): OpDef {
  const { decompose, ...rest } = spec;
  return { ...defineOp({ ...rest, domain: EXACT_DOMAIN, infer: (ctx) => inferByDecomposition(ctx, spec.op, decompose) }), decompose };
}

