// Run one kernel of the plan. A kernel implements graph node(s) by name
// (kernel.nodes); the graph module is the one compile() lowered the plan's
// dataflow from, so every kernel computes with the reference kernel for its
// node. Views do no work (their bytes are their input's); host kernels run on
// the host with host values and the shapes of device tensors; device kernels
// read and write memory under the plan's residency rules and run tiled where
// their op allows (tiles.ts).

import { isSubByte } from "../../ir/dtype.js";
import type { Node } from "../../ir/graph/graph.js";
import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import { KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import type { Tensor } from "../../ir/tensor.js";
import { allocate, elementCount } from "../../ir/tensor.js";
import { ResidencyError } from "./arena.js";
import { isCacheAppendNode, kernelNode, message } from "../../ir/placement/legality.js";
import { runCacheAppendKernel } from "./cache.js";
import { runQuantizedMatmul } from "./quant-matmul.js";
import { opKey } from "../../ir/graph/graph.js";
import { isAttention, runAttentionKernel } from "./attention.js";
import type { KernelEnv } from "./kernel-env.js";
import { computeDType, describeKernel, readOperand, resultOf, runWhole, tiledStep } from "./kernel-env.js";
import type { Operand, Result } from "./operands.js";
import { invoke } from "./operands.js";
import { chooseStream } from "../../ir/dataflow/streaming.js";
import { broadcastMatrices, runGather, runImages, runMap, runMatmul, runRows } from "./tiled.js";
import { RESIDENT_ROLES } from "./memory.js";

/** The graph node a kernel implements; refuses a plan whose kernels do not match the graph. */
function nodeOf(k: DfKernel, nodes: ReadonlyMap<string, Node>): Node {
  return kernelNode(k, nodes);
}

/** Host memory holds a value, or (for Shape and Size) the host knows a device tensor's shape. */
function hostValue(env: KernelEnv, name: string, who: string, shapeOf: string | undefined): Tensor {
  const m = env.memory;
  const dims = m.info(name).shape;
  const v = m.host.get(name) ?? m.host.get(m.rootOf(name));
  if (v) return v.dims.length === dims.length && v.dims.every((d, i) => d === dims[i]) ? v : { dtype: v.dtype, dims, data: v.data };
  const dtype = computeDType(env, name);
  if (shapeOf === "Shape") return { dtype, dims, data: allocate(dtype, 0) };
  if (shapeOf === "Size") return { dtype, dims, data: allocate(dtype, elementCount(dims)) };
  const a = m.allocationOf(name);
  throw new ResidencyError(message.hostReadsDevice(who, name, m.label(m.section), a ? `in ${a.tier}` : "in a stream on the chip"));
}

function runHost(k: DfKernel, node: Node, env: KernelEnv, who: string): void {
  const shapeOf = node.domain === "" && (node.op === "Shape" || node.op === "Size") ? node.op : undefined;
  const args = node.inputs.map((name) => (name === "" ? undefined : hostValue(env, name, who, shapeOf)));
  const values = invoke(node, args, env.opset, node.outputs.map((o) => computeDType(env, o)));
  node.outputs.forEach((name, i) => {
    if (name === "" || !values[i]) return;
    env.memory.host.set(name, values[i]!);
    // A result a device kernel reads goes to its allocation, or streams within this section.
    if (k.outputs.includes(name)) env.memory.store(name, values[i]!, who);
  });
}

/** A kernel streams as the plan says only if its node streams that way (a hand-edited plan may claim otherwise). */
export function nodeStreaming(node: Node, k: DfKernel, inputs: readonly (readonly number[] | undefined)[], outputs: readonly (readonly number[])[],
  literal: (name: string) => Tensor | undefined, packed = false): string | undefined {
  const want = chooseStream(node, inputs, outputs, literal, packed);
  return want === k.streaming ? undefined : message.streaming(k, node, want);
}

function runDevice(k: DfKernel, node: Node, env: KernelEnv, who: string): number {
  for (const name of node.inputs) {
    if (name !== "" && !k.inputs.includes(name)) throw new ResidencyError(message.unlistedInput(who, node.name, name));
  }
  const read: (Operand | undefined)[] = node.inputs.map((name) => (name === "" ? undefined : readOperand(env, name, who)));
  const inputs = env.adjustOperands?.(k, read) ?? read;
  const outputs: (Result | undefined)[] = node.outputs.map((name) => (name === "" ? undefined : resultOf(env, name, who)));
  const given = outputs.filter((r): r is Result => r !== undefined);
  const packed = [...inputs, ...given].some((o) => o !== undefined && isSubByte(o.dtype));
  const mismatch = nodeStreaming(node, k, inputs.map((o) => o?.shape), given.map((r) => r.shape), (name) => env.literals.get(name), packed);
  if (mismatch) throw new ResidencyError(mismatch);
  const output = outputs.find((r) => r !== undefined);
  if (k.streaming === "whole" || !output) {
    runWhole(env, k, who, node, inputs, outputs);
    return 1;
  }
  const step = tiledStep(env, k, who, node, inputs, output);
  if (k.streaming === "columns" || k.streaming === "rows") return runRows(step, k.streaming === "columns");
  if (k.streaming === "gather") return runGather(step);
  if (k.streaming === "map") return runMap(step, outputs.filter((r): r is Result => r !== undefined));
  if (k.streaming === "images") {
    return runImages(step, outputs.filter((r): r is Result => r !== undefined), (o) => RESIDENT_ROLES.has(env.memory.info(env.memory.rootOf(o.name)).role));
  }
  const key = opKey(node.domain, node.op);
  if (key === "com.microsoft.MatMulNBits" || key === "tierflow.DequantMatMul") return runQuantizedMatmul(step, key);
  const [a, b, bias] = inputs as [Operand, Operand, Operand | undefined];
  const transB = node.op === "Gemm" && node.attrs.transB?.type === "int" && node.attrs.transB.value === 1;
  return runMatmul(step, {
    a, b, ...(bias ? { bias } : {}), transB, bIndex: broadcastMatrices(b, output.shape),
    multiply: (x, y, c) => invoke(node, node.op === "MatMul" ? [x, y] : [x, y, c], env.opset, [output.dtype])[0],
  });
}

/** Run a kernel in the current section; returns the tiles it streamed (0 for views and host work). */
export function runKernel(k: DfKernel, env: KernelEnv, nodes: ReadonlyMap<string, Node>): number {
  const kind = KERNEL_KINDS[k.kind];
  if (!kind) throw new ResidencyError(message.unknownKind(k));
  if (k.kind === "view") return 0;
  const node = nodeOf(k, nodes);
  const who = describeKernel(k, env.memory);
  if (!kind.device) {
    runHost(k, node, env, who);
    return 0;
  }
  if (isAttention(node)) return runAttentionKernel(k, node, env, who);
  if (isCacheAppendNode(node)) return runCacheAppendKernel(k, node, env, who);
  return runDevice(k, node, env, who);
}
