// The reference backend's kernels: one table keyed by op, (domain, op type) as
// the graph-level op table (ir/graph/ops.ts) keys its definitions. Whatever
// executes ops looks its kernel up here: the interpreter, the plan runtime,
// constant folding and the importer's constants. The op table says what an op
// means; this table how the CPU computes it. directKernelFor gives the kernel a
// fused step of the interpreter runs for a node its pattern built.

import type { Node } from "../../ir/graph/graph.js";
import { opKey } from "../../ir/graph/graph.js";
import type { KernelEntry, OpKernel } from "./op-kernels/op-kernel.js";
import type { DirectKernel } from "./op-kernels/decomposition.js";
import { COMPOSITE_DOMAIN } from "../../ir/graph/ops/decompose.js";
import { kernelsOf } from "./op-kernels/op-kernel.js";
import { ELEMENTWISE_KERNELS } from "./op-kernels/elementwise.js";
import { SHAPE_KERNELS } from "./op-kernels/shape.js";
import { DATA_KERNELS } from "./op-kernels/data.js";
import { NN_KERNELS } from "./op-kernels/nn.js";
import { REDUCE_KERNELS } from "./op-kernels/reduce.js";
import { ACTIVATION_KERNELS } from "./op-kernels/activation.js";
import { REPEAT_KERNELS } from "./op-kernels/repeat.js";
import { COMPOSITE_DIRECT_KERNELS, COMPOSITE_KERNELS } from "./op-kernels/composite.js";
import { EXPANDED_KERNELS } from "./op-kernels/expanded.js";
import { QUANT_KERNELS } from "./op-kernels/quant.js";
import { ATTENTION_OP_KERNELS } from "./op-kernels/attention-ops.js";
import { EXACT_DIRECT_KERNELS, EXACT_KERNELS } from "./op-kernels/exact.js";
import { EXACT_DOMAIN } from "../../ir/graph/ops/exact.js";

export type { KernelContext, KernelEntry, OpKernel } from "./op-kernels/op-kernel.js";
export type { DirectKernel } from "./op-kernels/decomposition.js";

const TABLE = new Map<string, OpKernel>();

/**
 * Add kernels to the reference backend's kernel table, keyed as the op table keys ops
 * (an op registered with `registerOps` runs once it has a kernel here). A kernel already
 * in the table throws an Error: kernels are never replaced.
 *
 * @example
 * ```ts
 * import { lookupKernel, lookupOp, registerKernels, registerOps } from "tierflow";
 *
 * // A copy of Relu under another domain, with the same arity, inference and kernel.
 * registerOps([{ ...lookupOp("", "Relu")!, domain: "com.example" }]);
 * registerKernels([{ domain: "com.example", op: "Relu", kernel: lookupKernel("", "Relu")! }]);
 * ```
 */
export function registerKernels(entries: readonly KernelEntry[]): void {
  for (const { domain, op, kernel } of entries) {
    const key = opKey(domain, op);
    if (TABLE.has(key)) throw new Error(`kernel ${key} registered twice`);
    TABLE.set(key, kernel);
  }
}

registerKernels([
  ...kernelsOf("", { ...ELEMENTWISE_KERNELS, ...SHAPE_KERNELS, ...DATA_KERNELS, ...NN_KERNELS, ...REDUCE_KERNELS, ...ACTIVATION_KERNELS, ...REPEAT_KERNELS }),
  ...COMPOSITE_KERNELS, ...EXPANDED_KERNELS, ...QUANT_KERNELS, ...ATTENTION_OP_KERNELS, ...EXACT_KERNELS,
]);

/**
 * The reference kernel of `op` in `domain` ("" is ai.onnx); undefined when the reference
 * backend has none (or tierflow does not know the op).
 *
 * @example
 * ```ts
 * import { lookupKernel } from "tierflow";
 *
 * const relu = lookupKernel("", "Relu")!;
 * const x = { dtype: "f32" as const, dims: [3], data: new Float32Array([-1, 0, 2]) };
 * const [y] = relu([x], { attrs: {}, opset: 21, outputCount: 1 });
 * console.log(y!.data); // Float32Array [0, 0, 2]
 * ```
 */
export function lookupKernel(domain: string, op: string): OpKernel | undefined {
  return TABLE.get(opKey(domain, op));
}

/** The kernel of a node's op, or undefined. */
export function kernelFor(node: Pick<Node, "domain" | "op">): OpKernel | undefined {
  return lookupKernel(node.domain, node.op);
}

/** The keys (as `opKey` writes them) of every op with a reference kernel. */
export function kernelKeys(): string[] {
  return [...TABLE.keys()].sort();
}

/**
 * The kernel a fused step runs for a node its pattern built: a composite's (tierflow or
 * tierflow.exact) direct kernel, which gives the bits of the nodes the pattern matched or
 * undefined for a case it leaves (undefined too for a composite without one: its nodes
 * run); any other op's own kernel.
 */
export function directKernelFor(node: Pick<Node, "domain" | "op">): DirectKernel | undefined {
  const direct = node.domain === COMPOSITE_DOMAIN ? COMPOSITE_DIRECT_KERNELS : node.domain === EXACT_DOMAIN ? EXACT_DIRECT_KERNELS : undefined;
  if (!direct) return kernelFor(node);
  return Object.hasOwn(direct, node.op) ? direct[node.op] : undefined;
}
