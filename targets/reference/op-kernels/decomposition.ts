// A composite's reference kernel is its decomposition (OpDef.decompose) run
// through the primitive kernels, so a fused graph computes exactly what its
// decomposition says; a direct kernel, where a composite has one, computes the
// same in fewer passes and may leave a case to the decomposition.

import type { Node } from "../../../ir/graph/graph.js";
import type { OpDef } from "../../../ir/graph/op-def.js";
import type { Tensor } from "../../../ir/tensor.js";
import { COMPOSITE_DOMAIN, DECOMPOSITION_OPSET, isPrimitive } from "../../../ir/graph/ops/decompose.js";
import type { KernelContext, OpKernel } from "./op-kernel.js";
import { PRIMITIVE_KERNELS } from "./primitives.js";

/** Run a decomposition on concrete tensors with the primitive kernels (a tiny interpreter). */
export function evaluateDecomposition(op: string, decompose: (node: Node) => Node[], inputs: readonly (Tensor | undefined)[],
  ctx: KernelContext): Tensor[] {
  const composite: Node = {
    op, domain: COMPOSITE_DOMAIN, attrs: ctx.attrs, name: op,
    inputs: inputs.map((t, i) => (t ? `in${i}` : "")),
    outputs: Array.from({ length: ctx.outputCount }, (_, i) => `out${i}`),
  };
  const values = new Map<string, Tensor>();
  inputs.forEach((t, i) => t && values.set(composite.inputs[i]!, t));
  for (const node of decompose(composite)) {
    const kernel = node.domain === "" && isPrimitive(node.op) ? PRIMITIVE_KERNELS.get(node.op) : undefined;
    if (!kernel) throw new Error(`${op} decomposes into '${node.op}', which is not a primitive op with a kernel`);
    const args = node.inputs.map((name) => {
      if (name === "") return undefined;
      const v = values.get(name);
      if (!v) throw new Error(`${op} decomposition reads '${name}' before it is defined`);
      return v;
    });
    const results = kernel(args, { attrs: node.attrs, opset: DECOMPOSITION_OPSET, outputCount: node.outputs.length });
    node.outputs.forEach((out, i) => out !== "" && values.set(out, results[i]!));
  }
  return composite.outputs.map((out) => {
    const v = values.get(out);
    if (!v) throw new Error(`${op} decomposition does not define its output '${out}'`);
    return v;
  });
}

/**
 * A direct kernel for a composite: it must compute exactly what the decomposition computes
 * (the tests check them equal), or return undefined to leave a case to the decomposition.
 */
export type DirectKernel = (inputs: readonly (Tensor | undefined)[], ctx: KernelContext) => Tensor[] | undefined;

/** A composite's kernel through its decomposition only (tests compare direct kernels with it). */
export function decompositionKernel(def: OpDef): OpKernel {
  const decompose = def.decompose;
  if (!decompose) throw new Error(`${def.op} is not a composite`);
  return (inputs, ctx) => evaluateDecomposition(def.op, decompose, inputs, ctx);
}

/** An op's kernel: its direct kernel where that gives a result, else its decomposition. */
export function compositeKernel(def: OpDef, direct?: DirectKernel): OpKernel {
  const viaDecomposition = decompositionKernel(def);
  return direct ? (inputs, ctx) => direct(inputs, ctx) ?? viaDecomposition(inputs, ctx) : viaDecomposition;
}
