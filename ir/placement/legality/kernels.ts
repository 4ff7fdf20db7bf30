// Each kernel of a plan checked as targets/runtime/kernels.ts runs it: host
// kernels compute only with values the host holds; device kernels read what is
// resident, stream the way their node allows, and take every step within their
// stage buffer (ir/dataflow/stream-steps.ts); attention stages read what their
// stage needs and fill caches of their keys' and values' sizes.

import type { Graph, Module, Node } from "../../graph/graph.js";
import { mainGraph, opKey } from "../../graph/graph.js";
import { elementBytes } from "../../dtype.js";
import type { Tensor } from "../../tensor.js";
import type { DfKernel } from "../../dataflow/dataflow.js";
import { indexBy } from "../../dataflow/dataflow.js";
import { KERNEL_KINDS } from "../../dataflow/kinds.js";
import type { KernelOperands, StagedItem, StreamOperand } from "../../dataflow/stream-steps.js";
import { MOVED_INPUTS, chooseStream } from "../../dataflow/streaming.js";
import { productOperands, stageOverflow, streamSteps, tilingProblem, wholeItems } from "../../dataflow/stream-steps.js";
import { attentionInputsProblem, attentionStage, decodesOwnCache, isAttentionNode } from "./attention.js";
import { cacheAppendProblem, isCacheAppendNode } from "./cache.js";
import type { AbstractMemory } from "./memory.js";
import { RESIDENT_ROLES, SHAPE_ONLY_OPS } from "./memory.js";
import { kernelLabel, message, refuse } from "./words.js";

/** Where the runtime finds what the plan's kernels name: the graph's nodes, literals and constants. */
export interface GraphFacts {
  readonly graph: Graph;
  readonly nodes: ReadonlyMap<string, Node>;
  literal(name: string): Tensor | undefined;
}

export function graphFacts(module: Module): GraphFacts {
  const graph = mainGraph(module);
  return {
    graph, nodes: indexBy(graph.nodes, (n) => n.name),
    literal: (name) => {
      const c = graph.constants.get(name);
      return c?.kind === "literal" ? c.tensor : undefined;
    },
  };
}

/** The node a kernel implements, checked as the runtime's nodeOf checks it. */
export function kernelNode(k: DfKernel, nodes: ReadonlyMap<string, Node>): Node {
  const name = k.nodes[0];
  const node = name !== undefined ? nodes.get(name) : undefined;
  if (k.nodes.length !== 1 || !node) refuse(message.nodeMissing(k));
  const key = opKey(node!.domain, node!.op);
  if (!k.ops.includes(key) && !isAttentionNode(node!)) refuse(message.nodeOp(k, name!, key));
  return node!;
}

/** A kernel's steps each within its stage buffer, numbered as the runtime numbers them (empty steps stage nothing). */
function checkSteps(mem: AbstractMemory, k: DfKernel, who: string, steps: Iterable<{ items: readonly StagedItem[] }>, whole: boolean): void {
  const buffer = mem.stageBuffer(k.name);
  const room = buffer ? (whole ? buffer.bytes : Math.floor(buffer.bytes / 2)) : 0;
  let n = 0;
  for (const step of steps) {
    const total = step.items.reduce((s, i) => s + i.bytes, 0);
    if (total === 0) continue;
    if (!buffer || total > room) refuse(stageOverflow(who, n, step.items, buffer, whole));
    if (!whole) n++;
  }
}

function operand(mem: AbstractMemory, name: string, staged = true): StreamOperand {
  const t = mem.info(name);
  return { name, shape: t.shape, elem: elementBytes(t.dtype), staged, resident: RESIDENT_ROLES.has(mem.info(mem.rootOf(name)).role) };
}

function checkHostKernel(mem: AbstractMemory, k: DfKernel, node: Node, who: string): void {
  const shapeOnly = node.domain === "" && SHAPE_ONLY_OPS.has(node.op);
  for (const name of node.inputs) {
    if (name === "" || shapeOnly || mem.host.has(name) || mem.host.has(mem.rootOf(name))) continue;
    mem.info(name);
    const a = mem.allocationOf(name);
    refuse(message.hostReadsDevice(who, name, mem.where, a ? `in ${a.tier}` : "in a stream on the chip"));
  }
  for (const name of node.outputs) {
    if (name === "") continue;
    mem.host.add(name);
    if (k.outputs.includes(name)) mem.write(name, who);
  }
}

/** A socket of a node-level plan computes some operands in other shapes than its memory holds them (socket-scope.ts). */
export type OperandShapes = (k: DfKernel, ops: readonly (StreamOperand | undefined)[]) => (StreamOperand | undefined)[];

function checkDeviceKernel(mem: AbstractMemory, facts: GraphFacts, k: DfKernel, node: Node, who: string, adjust?: OperandShapes): void {
  for (const name of node.inputs) if (name !== "" && !k.inputs.includes(name)) refuse(message.unlistedInput(who, node.name, name));
  for (const name of node.inputs) if (name !== "") mem.read(name, who);
  const outputs = node.outputs.filter((o) => o !== "");
  for (const name of outputs) mem.info(name);
  const read = node.inputs.map((n) => (n === "" ? undefined : operand(mem, n)));
  const ops: KernelOperands = { inputs: adjust?.(k, read) ?? read, outputs: outputs.map((o) => operand(mem, o)) };
  const packed = [...ops.inputs, ...ops.outputs].some((o) => o !== undefined && o.elem < 1);
  const want = chooseStream(node, ops.inputs.map((o) => o?.shape), ops.outputs.map((o) => o.shape), facts.literal, packed);
  if (want !== k.streaming) refuse(message.streaming(k, node, want));
  if (k.streaming === "whole" || outputs.length === 0) {
    checkSteps(mem, k, who, [{ items: wholeItems(ops.inputs, ops.outputs) }], true);
  } else {
    const problem = tilingProblem(k.streaming, k.streaming === "map" ? ops.outputs : ops.outputs.slice(0, 1), k.tiling.tileShape, k.tiling.tiles, who, node.op);
    if (problem) refuse(problem);
    let stepOps = k.streaming === "matmul" ? productOperands(opKey(node.domain, node.op), ops) : ops;
    if (k.streaming === "map") {
      const moved = MOVED_INPUTS[node.op] === "all" ? ops.inputs.flatMap((o) => (o ? [o] : [])) : [ops.inputs[0]!];
      if ([...moved, ...ops.outputs].some((o) => o.elem !== moved[0]!.elem)) refuse(message.movementDType(who));
      stepOps = { inputs: moved, outputs: ops.outputs };
    }
    checkSteps(mem, k, who, streamSteps(k.streaming, stepOps, k.tiling.tileShape, k.tiling.tiles), false);
  }
  for (const name of outputs) mem.write(name, who);
}

function checkAttentionKernel(mem: AbstractMemory, k: DfKernel, node: Node, who: string): void {
  const stage = attentionStage(k, node);
  if (!stage) refuse(message.notAStage(k, node.name, k.outputs[0]));
  const cacheNames = new Set([`${node.name}/k_cache`, `${node.name}/v_cache`]);
  const wrongInputs = attentionInputsProblem(k, node, stage!, cacheNames, decodesOwnCache(mem.plan.dataflow.phase, mem.info(node.inputs[1]!).role));
  if (wrongInputs) refuse(wrongInputs);
  const [qName, kName, vName, maskName] = node.inputs as [string, string, string, string | undefined];
  const q = mem.info(qName);
  const groups = node.attrs.kv_groups?.type === "int" ? node.attrs.kv_groups.value : 1;
  const caches = { k: `${node.name}/k_cache`, v: `${node.name}/v_cache` };
  const writeCache = (cache: string, source: string) => {
    mem.write(cache, who);
    const c = mem.info(cache), s = mem.info(source);
    if (c.bytes !== s.bytes || c.dtype !== s.dtype) refuse(message.cacheSize(who, cache, c.bytes, source, s.bytes));
  };
  const tiled = (kind: "matmul" | "columns" | "rows" | "attention", inputs: readonly (StreamOperand | undefined)[], out: string) => {
    const o = operand(mem, out);
    const problem = tilingProblem(kind, [o], k.tiling.tileShape, k.tiling.tiles, who, kind === "attention" ? node.op : STAGE_OPS[stage!]!);
    if (problem) refuse(problem);
    checkSteps(mem, k, who, streamSteps(kind, { inputs, outputs: [o] }, k.tiling.tileShape, k.tiling.tiles), false);
    mem.write(out, who);
  };
  if (stage === "fused") {
    const hasMask = maskName !== undefined && maskName !== "" && k.inputs.includes(maskName);
    for (const name of [qName, kName, vName, ...(hasMask ? [maskName!] : [])]) mem.read(name, who);
    const kv = mem.info(kName);
    if (q.shape[1] !== kv.shape[1]! * groups) refuse(message.headGroups(who, q.shape[1]!, kv.shape[1]!, groups));
    tiled("attention", [operand(mem, qName), operand(mem, kName), operand(mem, vName), hasMask ? operand(mem, maskName!) : undefined], node.outputs[0]!);
    if (k.outputs.includes(caches.k)) writeCache(caches.k, kName);
    if (k.outputs.includes(caches.v)) writeCache(caches.v, vName);
    return;
  }
  const [first, second] = k.inputs;
  if (stage === "scores" || stage === "context") {
    mem.read(first!, who);
    mem.read(second!, who);
    const b = mem.info(second!);
    if (q.shape[1] !== b.shape[1]! * groups) refuse(message.headGroups(who, q.shape[1]!, b.shape[1]!, groups));
    tiled("matmul", [operand(mem, first!), operand(mem, second!)], k.outputs[0]!);
    const cache = stage === "scores" ? caches.k : caches.v;
    if (k.outputs.includes(cache)) writeCache(cache, second!);
    return;
  }
  mem.read(first!, who);
  if (stage === "masked" && second !== undefined) mem.read(second, who);
  const inputs = stage === "scaled" ? [operand(mem, first!), undefined]
    : stage === "masked" && second !== undefined ? [operand(mem, first!), operand(mem, second)] : [operand(mem, first!)];
  tiled(stage === "probs" ? "rows" : "columns", inputs, k.outputs[0]!);
}

/** The primitive op each unfused attention stage runs (for messages). */
const STAGE_OPS: Readonly<Record<string, string>> = { scores: "MatMul", scaled: "Mul", masked: "Add", probs: "Softmax", context: "MatMul" };

/** A cache append: the new rows staged tile by tile and written into the cache's allocation. */
function checkCacheKernel(mem: AbstractMemory, k: DfKernel, node: Node, who: string): void {
  const problem = cacheAppendProblem(k, node, who, (name) => mem.info(name));
  if (problem) refuse(problem);
  const [, addedName] = k.inputs as [string, string];
  const present = k.outputs[0]!;
  mem.read(addedName, who);
  if (!mem.allocationOf(present)) refuse(message.cacheTier(who, present));
  const added = operand(mem, addedName);
  const tiling = tilingProblem("append", [added], k.tiling.tileShape, k.tiling.tiles, who, node.op);
  if (tiling) refuse(tiling);
  checkSteps(mem, k, who, streamSteps("append", { inputs: [undefined, added], outputs: [operand(mem, present)] }, k.tiling.tileShape, k.tiling.tiles), false);
  mem.write(present, who);
}

/** One kernel of a section, as runKernel runs it (collectives aside). */
export function checkKernel(mem: AbstractMemory, facts: GraphFacts, k: DfKernel, nodes: ReadonlyMap<string, Node>, adjust?: OperandShapes): void {
  const kind = KERNEL_KINDS[k.kind] ?? refuse(message.unknownKind(k));
  if (k.kind === "view") return;
  const node = kernelNode(k, nodes);
  const who = kernelLabel(k, mem.where);
  if (!kind.device) checkHostKernel(mem, k, node, who);
  else if (isAttentionNode(node)) checkAttentionKernel(mem, k, node, who);
  else if (isCacheAppendNode(node)) checkCacheKernel(mem, k, node, who);
  else checkDeviceKernel(mem, facts, k, node, who, adjust);
}


