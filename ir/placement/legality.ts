// The plan's legality: everything the runtime (targets/runtime) would refuse
// about a plan, found before it runs, in the runtime's own words. The compiler
// checks every plan it is about to write, `tierflow verify` checks a plan file,
// and the runtime checks a plan before it loads a byte, all with this module;
// the runtime's own checks during the run then never fire on a legal plan
// (test/runtime/legality.test.ts holds them to that).
//
// It is an abstract run: the plan executed without data, section by section
// and kernel by kernel as execute.ts does, keeping only what the runtime's
// checks depend on:
//   residency   which blocks exist in which tier and are written (loads,
//               transfers, kernels), which tensors are streams of this section,
//               reads only where an allocation covers the section, writes only
//               inside it, sizes as the plan says;
//   host values the values the host holds (inputs, literals, host kernels'
//               results, values read back from the device), which are all a
//               host kernel may compute with;
//   staging     each step of every kernel (ir/dataflow/streaming.ts) within its
//               stage buffer, tilings that write their outputs exactly once, and
//               each kernel streaming the way its graph node allows;
//   model       the plan's kernels, constants and sizes matching the graph the
//               model file compiles to.
// A node-level plan (`parallel`) is checked by its structure here; its sockets
// run the same rules on their stage's share (targets/runtime/parallel.ts).

import type { Graph, Module, Node } from "../graph/graph.js";
import { mainGraph, opKey } from "../graph/graph.js";
import { dtypeBytes } from "../dtype.js";
import type { DType } from "../dtype.js";
import { elementCount } from "../tensor.js";
import type { Tensor } from "../tensor.js";
import type { Location } from "../diagnostics.js";
import { TierflowError } from "../diagnostics.js";
import type { DataflowModule, DfKernel, DfTensor } from "../dataflow/dataflow.js";
import { viewAliases } from "../dataflow/dataflow.js";
import { KERNEL_KINDS } from "../dataflow/kinds.js";
import type { KernelOperands, StagedItem, StreamOperand } from "../dataflow/streaming.js";
import { MOVED_INPUTS, chooseStream, stageOverflow, streamSteps, tilingProblem, wholeItems } from "../dataflow/streaming.js";
import type { Allocation, Plan, TensorShard, TierName, Transfer } from "./plan.js";
import type { StageScope } from "./socket-scope.js";
import { biasColumns, memberOperands, outputStages, socketNodes, stageScope } from "./socket-scope.js";
import { checkParallelPlan, groupOf } from "./parallel-checks.js";
import { ALIGNMENT } from "./plan.js";
import type { Target } from "../../targets/target.js";
import { tierCapacity } from "./verify.js";

/** Roles whose data is in memory from load time on (weights and constants): no kernel writes them. */
export const RESIDENT_ROLES: ReadonlySet<string> = new Set(["weight", "constant"]);

/** Ops whose host kernel reads only the shape of its input, never its values. */
export const SHAPE_ONLY_OPS: ReadonlySet<string> = new Set(["Shape", "Size"]);

export const align = (n: number): number => Math.ceil(n / ALIGNMENT) * ALIGNMENT;

/** A plan the runtime cannot run as placed. */
export class PlanRefusal extends TierflowError {
  constructor(message: string, location: Location = {}) {
    super(message, location);
    this.name = "PlanRefusal";
  }
}

const refuse = (message: string, location: Location = {}): never => {
  throw new PlanRefusal(message, location);
};

// ---- The runtime's words, shared by it (targets/runtime/memory.ts and kernels.ts) and this check ----

export function sectionLabel(plan: Plan, section: number): string {
  return section < 0 ? "at load time" : `in section ${section} (${plan.sections[section]?.name ?? `s${section}`})`;
}

/** "kernel k12 (MatMul) in section 3 (s3)". */
export function kernelLabel(k: DfKernel, where: string): string {
  return `kernel ${k.name} (${k.ops.join(", ")}) ${where}`;
}

export const message = {
  unknownTensor: (name: string) => `tensor '${name}' is not in the plan's dataflow module`,
  inNoTier: (reader: string, what: string, streamedIn: string | undefined) =>
    `${reader} reads ${what}, but it is in no tier: the plan gives it no allocation and ${streamedIn !== undefined ? `it was a stream ${streamedIn}` : "no kernel of this section produced it"}`,
  notResident: (reader: string, what: string, tier: string, why: string) => `${reader} reads ${what} from ${tier}, but it is not resident there: ${why}`,
  coversSections: (a: Allocation) => `its allocation covers sections ${a.firstSection}..${a.lastSection}`,
  notWritten: "nothing (no load, transfer or kernel) has written it yet",
  writeOutside: (writer: string, name: string, a: Allocation, where: string) =>
    `${writer} writes '${name}' to ${a.tier} ${where}, outside its allocation (sections ${a.firstSection}..${a.lastSection})`,
  allocationSize: (a: Allocation, tensorBytes: number) => `${a.tier}: the allocation of '${a.tensor}' has ${a.bytes} bytes, the tensor needs ${tensorBytes}`,
  outsideTier: (tier: string, tensor: string, offset: number, bytes: number, where: string, capacity: number) =>
    `${tier}: '${tensor}' at bytes ${offset}..${offset + bytes} ${where} lies outside the tier, which holds ${capacity} bytes`,
  transferNoAllocation: (what: string, t: Transfer, where: string) => `${what} moves '${t.tensor}' to ${t.to} ${where}, but the plan gives it no allocation`,
  transferWrongTier: (what: string, t: Transfer, where: string, tier: string) => `${what} moves '${t.tensor}' to ${t.to} ${where}, but its allocation is in ${tier}`,
  transferSize: (what: string, t: Transfer, a: Allocation) => `${what} moves ${t.bytes} bytes of '${t.tensor}', its allocation in ${a.tier} has ${a.bytes}`,
  transferNotOnHost: (what: string, t: Transfer, where: string) => `${what} moves '${t.tensor}' from the host ${where}, but the host does not hold it`,
  transferNotResident: (what: string, t: Transfer, where: string) => `${what} moves '${t.tensor}' from ${t.from} ${where}, but it is not resident in ${t.from}`,
  hostReadsDevice: (who: string, name: string, where: string, lives: string) =>
    `${who} reads the values of '${name}' on the host ${where}, but it lives ${lives}: the host knows only the shapes of device tensors`,
  noConstant: (name: string, role: string) => `'${name}' is a ${role} of the plan, but the model has no such constant`,
  constantSize: (name: string, bytes: number, planned: number) => `'${name}' has ${bytes} bytes in the model, the plan sizes it ${planned}`,
  unknownKind: (k: DfKernel) => `kernel ${k.name} has kind '${k.kind}', which the dataflow level does not define`,
  nodeMissing: (k: DfKernel) => `kernel ${k.name} implements node(s) ${k.nodes.map((n) => `'${n}'`).join(", ") || "none"}, which the model's graph does not have as one node`,
  nodeOp: (k: DfKernel, name: string, key: string) => `kernel ${k.name} runs ${k.ops.join(", ")}, but node '${name}' of the model's graph is ${key}`,
  unlistedInput: (who: string, node: string, name: string) => `${who}: node '${node}' reads '${name}', which the plan's kernel does not list as an input`,
  streaming: (k: DfKernel, node: Node, want: string) => `kernel ${k.name} streams as '${k.streaming}' in the plan, but its node '${node.name}' (${node.op}) streams as '${want}'`,
  unknownKernel: (section: string, kernel: string) => `section ${section} names kernel ${kernel}, which the plan's dataflow module does not have`,
  decode: "the plan is for the decode phase, whose attention reads a KV cache filled by earlier steps that the graph has no input for; the runtime runs prefill plans (`tierflow generate` re-runs the growing prefix)",
  noSections: "the plan has no sections to run",
  movementDType: (who: string) => `${who}: data movement needs its moved inputs and outputs in one dtype`,
  headGroups: (who: string, heads: number, kvHeads: number, groups: number) => `${who}: ${heads} query heads do not group onto ${kvHeads} key/value heads by ${groups}`,
  notAStage: (k: DfKernel, node: string, out: string | undefined) => `kernel ${k.name} implements attention node '${node}' but writes '${out}', which is none of its stages`,
  stageInputs: (k: DfKernel, stage: string, node: string, want: readonly string[]) =>
    `kernel ${k.name} computes the ${stage} of attention node '${node}' from (${k.inputs.map((i) => `'${i}'`).join(", ")}), not from (${want.map((i) => `'${i}'`).join(", ")})`,
  cacheSize: (who: string, cache: string, cacheBytes: number, source: string, bytes: number) => `${who}: '${cache}' holds ${cacheBytes} bytes, '${source}' has ${bytes}`,
  shardShape: (name: string, dims: readonly number[], s: TensorShard, cut: readonly number[], local: readonly number[]) =>
    `shard of '${name}': [${dims.join(", ")}] split along axis ${s.axis} into ${s.parts} parts is [${cut.join(", ")}], but the plan's per-socket tensor is [${local.join(", ")}]`,
  shardParts: (name: string, dims: readonly number[], s: TensorShard) =>
    `shard of '${name}' splits axis ${s.axis} of [${dims.join(", ")}] into ${s.parts} parts, which do not divide it`,
  noSend: (stage: number, tensor: string, from: number, where: string) =>
    `stage ${stage} receives '${tensor}' from stage ${from} before ${where.replace(/^in /, "")}, but stage ${from} sent nothing of that name`,
  collectivePairs: (who: string, k: DfKernel) => `${who} has ${k.inputs.length} inputs and ${k.outputs.length} outputs; a collective moves each input to one output`,
  collectiveDType: (who: string, input: DfTensor, output: DfTensor) => `${who} turns '${input.name}' (${input.dtype}) into '${output.name}' (${output.dtype}); a collective keeps the dtype`,
  collectiveShapes: (who: string, kind: string, input: DfTensor, output: DfTensor, groupSize: number, shards: ReadonlyMap<string, TensorShard>): string | undefined => {
    const shape = (t: DfTensor) => `[${t.shape.join(", ")}]`;
    switch (kind) {
      case "all-reduce":
        return input.bytes === output.bytes ? undefined : `${who} all-reduces '${input.name}' ${shape(input)} into '${output.name}' ${shape(output)}; the shapes must agree`;
      case "all-gather": {
        const sh = shards.get(input.name);
        return sh && output.shape[sh.axis] === input.shape[sh.axis]! * sh.parts ? undefined
          : `${who} gathers '${input.name}' ${shape(input)} into '${output.name}' ${shape(output)}, but the plan's shards do not split '${input.name}' into the parts of '${output.name}'`;
      }
      case "reduce-scatter": {
        const sh = shards.get(output.name);
        return sh && input.shape[sh.axis] === output.shape[sh.axis]! * sh.parts ? undefined
          : `${who} scatters '${input.name}' ${shape(input)} into '${output.name}' ${shape(output)}, but the plan's shards do not split '${output.name}' that way`;
      }
      case "all-to-all": {
        const gathered = output.shape[0] === groupSize * input.shape[0]! && output.bytes === groupSize * input.bytes;
        const returned = input.shape[0] === groupSize * output.shape[0]! && input.bytes === groupSize * output.bytes;
        return gathered || returned ? undefined
          : `${who} exchanges '${input.name}' ${shape(input)} for '${output.name}' ${shape(output)}: neither the group's ${groupSize} members' tokens gathered nor returned`;
      }
      default:
        return `${who} is a '${kind}', which is no collective kernel (stage-to-stage sends are the plan's sends)`;
    }
  },
  tensorBytes: (t: DfTensor, bytes: number) => `tensor '${t.name}' is ${t.dtype}[${t.shape.join(", ")}], ${bytes} bytes, but the plan sizes it ${t.bytes}`,
};

/** A tensor's bytes must be its shape's elements in its dtype; returns the refusal, if any. */
export function tensorSizeProblem(t: DfTensor): string | undefined {
  const bytes = elementCount(t.shape) * dtypeBytes(t.dtype);
  return bytes === t.bytes ? undefined : message.tensorBytes(t, bytes);
}

/**
 * What a kernel of an attention node's `stage` must read, in order, besides the
 * layer's cache: the node's own operands (fused), or the stage before's result
 * (and the mask, for the masking stage).
 */
export function attentionStageInputs(node: Node, stage: NonNullable<ReturnType<typeof attentionStage>>, decode: boolean): string[] {
  const [q, key, v, mask] = node.inputs as [string, string, string, string | undefined];
  // A decode step's mask is the cache's extent, not an operand (compiler/lower/attention.ts).
  const masked = mask !== undefined && mask !== "" && !decode ? [mask] : [];
  switch (stage) {
    case "fused": return [q, key, v, ...masked];
    case "scores": return [q, key];
    case "scaled": return [`${node.name}/scores`];
    case "masked": return [`${node.name}/scaled`, ...masked];
    case "probs": return [`${node.name}/masked`];
    case "context": return [`${node.name}/probs`, v];
  }
}

/** Refusal of a kernel that reads other than its attention stage needs, if any. */
export function attentionInputsProblem(k: DfKernel, node: Node, stage: NonNullable<ReturnType<typeof attentionStage>>, caches: ReadonlySet<string>,
  decode: boolean): string | undefined {
  const want = attentionStageInputs(node, stage, decode);
  const got = k.inputs.filter((i) => !caches.has(i));
  const same = got.length === want.length && got.every((x, i) => x === want[i]);
  return same ? undefined : message.stageInputs(k, stage, node.name, want);
}

/** Attention's stage that an unfused kernel computes, from the tensor it writes. */
export function attentionStage(k: DfKernel, node: Node): "fused" | "scores" | "scaled" | "masked" | "probs" | "context" | undefined {
  if (k.kind === "attention") return "fused";
  const out = k.outputs[0];
  for (const s of ["scores", "scaled", "masked", "probs"] as const) if (out === `${node.name}/${s}`) return s;
  return out === node.outputs[0] ? "context" : undefined;
}

export const isAttentionNode = (node: Pick<Node, "domain" | "op">): boolean => node.domain === "tierflow" && node.op === "Attention";

/** Where the runtime finds what the plan's kernels name: the graph's nodes, literals and constants. */
interface GraphFacts {
  readonly graph: Graph;
  readonly nodes: ReadonlyMap<string, Node>;
  literal(name: string): Tensor | undefined;
}

function graphFacts(module: Module): GraphFacts {
  const graph = mainGraph(module);
  return {
    graph, nodes: new Map(graph.nodes.map((n) => [n.name, n])),
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

/** What a memory (a socket's, or the whole plan's) knows of the plan by name; refuses tensors whose sizes disagree with their shapes. */
export interface MemoryIndex {
  readonly allocations: ReadonlyMap<string, Allocation>;
  readonly aliases: ReadonlyMap<string, string>;
  /** Load time fills the allocations that start here (a pipeline stage's first section). */
  readonly loadSection: number;
  readonly tensors: ReadonlyMap<string, DfTensor>;
}

export function memoryIndex(plan: Plan, scope?: Pick<StageScope, "allocations" | "aliases" | "firstSection">): MemoryIndex {
  for (const t of plan.dataflow.tensors) {
    const problem = tensorSizeProblem(t);
    if (problem) refuse(problem);
  }
  return {
    allocations: new Map((scope?.allocations ?? plan.allocations).map((a) => [a.tensor, a])),
    aliases: scope?.aliases ?? viewAliases(plan.dataflow),
    loadSection: scope?.firstSection ?? 0,
    tensors: new Map(plan.dataflow.tensors.map((t) => [t.name, t])),
  };
}

interface BlockState {
  readonly allocation: Allocation;
  written: boolean;
}

/** The abstract run's memory: which blocks exist and are written, this section's streams, the host's values. */
class AbstractMemory {
  readonly allocations: ReadonlyMap<string, Allocation>;
  readonly aliases: ReadonlyMap<string, string>;
  readonly tensors: ReadonlyMap<string, DfTensor>;
  readonly blocks = new Map<string, BlockState>();
  readonly host = new Set<string>();
  streams = new Set<string>();
  readonly streamedIn = new Map<string, number>();
  section = -1;

  readonly loadSection: number;

  constructor(readonly plan: Plan, readonly target: Target, readonly scope?: StageScope) {
    ({ allocations: this.allocations, aliases: this.aliases, loadSection: this.loadSection, tensors: this.tensors } = memoryIndex(plan, scope));
  }

  get where(): string {
    return sectionLabel(this.plan, this.section);
  }

  rootOf(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  info(name: string): DfTensor {
    return this.tensors.get(name) ?? refuse(message.unknownTensor(name));
  }

  allocationOf(name: string): Allocation | undefined {
    return this.allocations.get(this.rootOf(name));
  }

  read(name: string, reader: string): void {
    const root = this.rootOf(name);
    const what = root === name ? `'${name}'` : `'${name}' (a view of '${root}')`;
    if (this.streams.has(root)) return;
    const a = this.allocations.get(root);
    if (!a) {
      const from = this.streamedIn.get(root);
      refuse(message.inNoTier(reader, what, from !== undefined ? sectionLabel(this.plan, from) : undefined));
    }
    const block = this.blocks.get(root);
    if (!block) {
      const why = this.section > a!.lastSection || this.section < a!.firstSection ? message.coversSections(a!) : message.notWritten;
      refuse(message.notResident(reader, what, a!.tier, why));
    }
    if (!block!.written) refuse(message.notResident(reader, what, a!.tier, "it has not been completely written yet"));
  }

  write(name: string, writer: string): void {
    const t = this.info(name);
    const a = this.allocations.get(name);
    if (!a) {
      this.streams.add(name);
      this.streamedIn.set(name, this.section);
      return;
    }
    const loadTime = this.section < 0 && a.firstSection === this.loadSection;
    if (!loadTime && (this.section < a.firstSection || this.section > a.lastSection)) refuse(message.writeOutside(writer, name, a, this.where));
    if (a.bytes !== t.bytes) refuse(message.allocationSize(a, t.bytes));
    this.place(a);
    this.blocks.get(name)!.written = true;
  }

  place(a: Allocation): void {
    if (this.blocks.has(a.tensor)) return;
    const capacity = tierCapacity(this.target, a.tier);
    if (!Number.isSafeInteger(a.offset) || !Number.isSafeInteger(a.bytes) || a.offset < 0 || a.bytes < 0 || a.offset + a.bytes > capacity) {
      refuse(message.outsideTier(a.tier, a.tensor, a.offset, a.bytes, this.where, capacity));
    }
    this.blocks.set(a.tensor, { allocation: a, written: false });
  }

  transfer(t: Transfer, what: string): void {
    if (t.to === "host") {
      this.read(t.tensor, what);
      this.host.add(t.tensor);
      return;
    }
    const a = this.allocations.get(t.tensor);
    if (!a) refuse(message.transferNoAllocation(what, t, this.where));
    if (a!.tier !== t.to) refuse(message.transferWrongTier(what, t, this.where, a!.tier));
    if (t.bytes !== a!.bytes) refuse(message.transferSize(what, t, a!));
    if (t.from === "host") {
      if (!this.host.has(t.tensor)) refuse(message.transferNotOnHost(what, t, this.where));
    } else {
      const source = this.blocks.get(t.tensor);
      const staged = t.from === "ddr" && this.staging.has(t.tensor);
      if (!staged && (!source || source.allocation.tier !== t.from || !source.written)) refuse(message.transferNotResident(what, t, this.where));
    }
    this.write(t.tensor, what);
  }

  /** Weights on their way from the model file to HBM, in a DDR block above every DDR allocation. */
  readonly staging = new Set<string>();

  stageInDdr(tensor: string, bytes: number): void {
    const capacity = tierCapacity(this.target, "ddr");
    const base = align([...this.allocations.values()].filter((a) => a.tier === "ddr").reduce((m, a) => Math.max(m, a.offset + a.bytes), 0));
    if (base + bytes > capacity) refuse(message.outsideTier("ddr", tensor, base, bytes, this.where, capacity));
    this.staging.add(tensor);
  }

  beginSection(section: number): void {
    this.section = section;
    this.streams = new Set();
    for (const a of this.allocations.values()) if (a.tier === "sram" && a.firstSection <= section && a.lastSection >= section) this.place(a);
  }

  endSection(section: number): void {
    for (const [name, b] of [...this.blocks]) if (b.allocation.lastSection <= section) this.blocks.delete(name);
    this.streams = new Set();
  }

  /** The stage buffer the plan gives a kernel, if any. */
  stageBuffer(kernel: string): Allocation | undefined {
    const a = this.allocations.get(`${kernel}/buffers`);
    return a && this.blocks.has(a.tensor) ? a : undefined;
  }
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
  return { name, shape: t.shape, elem: dtypeBytes(t.dtype), staged, resident: RESIDENT_ROLES.has(mem.info(mem.rootOf(name)).role) };
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
type OperandShapes = (k: DfKernel, ops: readonly (StreamOperand | undefined)[]) => (StreamOperand | undefined)[];

function checkDeviceKernel(mem: AbstractMemory, facts: GraphFacts, k: DfKernel, node: Node, who: string, adjust?: OperandShapes): void {
  for (const name of node.inputs) if (name !== "" && !k.inputs.includes(name)) refuse(message.unlistedInput(who, node.name, name));
  for (const name of node.inputs) if (name !== "") mem.read(name, who);
  const outputs = node.outputs.filter((o) => o !== "");
  for (const name of outputs) mem.info(name);
  const read = node.inputs.map((n) => (n === "" ? undefined : operand(mem, n)));
  const ops: KernelOperands = { inputs: adjust?.(k, read) ?? read, outputs: outputs.map((o) => operand(mem, o)) };
  const want = chooseStream(node, ops.inputs.map((o) => o?.shape), ops.outputs.map((o) => o.shape), facts.literal);
  if (want !== k.streaming) refuse(message.streaming(k, node, want));
  if (k.streaming === "whole" || outputs.length === 0) {
    checkSteps(mem, k, who, [{ items: wholeItems(ops.inputs, ops.outputs) }], true);
  } else {
    const problem = tilingProblem(k.streaming, k.streaming === "map" ? ops.outputs : ops.outputs.slice(0, 1), k.tiling.tileShape, k.tiling.tiles, who, node.op);
    if (problem) refuse(problem);
    let stepOps = ops;
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
  const wrongInputs = attentionInputsProblem(k, node, stage!, cacheNames, mem.plan.dataflow.phase === "decode");
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

/** Load time, as targets/runtime/load.ts does it: resident DDR allocations from the model, then load-time transfers. */
function checkLoad(mem: AbstractMemory, facts: GraphFacts, shards?: ReadonlyMap<string, TensorShard>): void {
  mem.section = -1;
  const resident = (name: string) => RESIDENT_ROLES.has(mem.info(name).role);
  const fill = (name: string, bytes: number) => {
    const c = facts.graph.constants.get(name);
    if (!c) refuse(message.noConstant(name, mem.info(name).role));
    const storage = mem.info(name).dtype;
    const dims = c!.kind === "weight" ? c!.dims : c!.tensor.dims;
    const dtype: DType = c!.kind === "weight" ? c!.dtype : c!.tensor.dtype;
    const shard = shards?.get(name);
    if (c!.kind === "weight" && dtype === storage && !shard) {
      if (c!.ref.length !== bytes) refuse(`weights file '${c!.ref.file}': weight of ${c!.ref.length} bytes does not fill a destination of ${bytes}`, { node: name });
      return;
    }
    let loaded = dims;
    if (shard) {
      // A socket loads its part of a sharded constant: the split must give the per-socket tensor.
      const local = mem.info(name).shape, cut = dims.map((d, i) => (i === shard.axis ? d / shard.parts : d));
      if (Number.isInteger(cut[shard.axis]) && (cut.length !== local.length || cut.some((d, i) => d !== local[i]))) refuse(message.shardShape(name, dims, shard, cut, local));
      if (dims[shard.axis] === undefined || dims[shard.axis]! % shard.parts !== 0) refuse(message.shardParts(name, dims, shard));
      loaded = cut;
    }
    const modelBytes = elementCount(loaded) * dtypeBytes(storage);
    if (modelBytes !== bytes) refuse(message.constantSize(name, modelBytes, bytes));
  };
  for (const a of mem.allocations.values()) {
    if (a.tier !== "ddr" || !resident(a.tensor)) continue;
    mem.write(a.tensor, `loading '${a.tensor}'`);
    fill(a.tensor, a.bytes);
  }
  (mem.scope?.transfers ?? mem.plan.transfers).forEach((t, i) => {
    if (t.beforeSection >= 0) return;
    if (t.from === "ddr" && t.to !== "host" && resident(t.tensor) && !mem.blocks.has(t.tensor)) {
      mem.stageInDdr(t.tensor, mem.info(t.tensor).bytes);
      fill(t.tensor, mem.info(t.tensor).bytes);
    }
    mem.transfer(t, `transfer ${i} (${t.from} -> ${t.to})`);
    mem.staging.delete(t.tensor);
  });
}

/**
 * Refuse `plan` with the runtime's words if the runtime would refuse it, given
 * the graph its model file compiles to (open.ts's graphOfPlan). Inputs are not
 * part of a plan: their shapes are checked when they are given.
 */
/** One kernel of a section, as runKernel runs it (collectives aside). */
function checkKernel(mem: AbstractMemory, facts: GraphFacts, k: DfKernel, nodes: ReadonlyMap<string, Node>, adjust?: OperandShapes): void {
  const kind = KERNEL_KINDS[k.kind] ?? refuse(message.unknownKind(k));
  if (k.kind === "view") return;
  const node = kernelNode(k, nodes);
  const who = kernelLabel(k, mem.where);
  if (!kind.device) checkHostKernel(mem, k, node, who);
  else if (isAttentionNode(node)) checkAttentionKernel(mem, k, node, who);
  else checkDeviceKernel(mem, facts, k, node, who, adjust);
}

/** The host's values before a run: the graph's literals and its inputs. */
function hostStart(mem: AbstractMemory, facts: GraphFacts): void {
  for (const [name, c] of facts.graph.constants) if (c.kind === "literal") mem.host.add(name);
  for (const name of facts.graph.inputs) mem.host.add(name);
}

/**
 * Refuse `plan` with the runtime's words if the runtime would refuse it, given
 * the graph its model file compiles to (open.ts's graphOfPlan). Inputs are not
 * part of a plan: their shapes are checked when they are given.
 */
export function checkPlanLegality(plan: Plan, target: Target, module: Module): void {
  if (plan.dataflow.phase !== "prefill") refuse(message.decode);
  if (plan.sections.length === 0) refuse(message.noSections);
  const facts = graphFacts(module);
  if (plan.parallel) return checkParallelLegality(plan, target, facts);
  const mem = new AbstractMemory(plan, target);
  hostStart(mem, facts);
  const kernels = new Map(plan.dataflow.kernels.map((k) => [k.name, k]));
  checkLoad(mem, facts);
  const last = plan.sections.length - 1;
  plan.sections.forEach((section, s) => {
    mem.beginSection(s);
    plan.transfers.forEach((t, i) => {
      if (t.beforeSection === s) mem.transfer(t, `transfer ${i} (${t.from} -> ${t.to})`);
    });
    for (const ka of section.kernels) checkKernel(mem, facts, kernels.get(ka.kernel) ?? refuse(message.unknownKernel(section.name, ka.kernel)), facts.nodes);
    if (s === last) {
      for (const name of new Set(facts.graph.outputs)) mem.read(name, `the host, reading graph output '${name}' back after ${sectionLabel(plan, s).replace(/^in /, "")},`);
    }
    mem.endSection(s);
  });
}

/**
 * A node-level plan as targets/runtime/parallel.ts runs it: its parallel part
 * whole, then each pipeline stage on its first socket (every member of a group
 * runs the same program on its own shards, and every replica the same), its
 * share of the memory, the values earlier stages send it, its collectives, and
 * what it sends on.
 */
function checkParallelLegality(plan: Plan, target: Target, facts: GraphFacts): void {
  const p = checkParallelPlan(plan);
  const group = groupOf(p);
  const nodes = socketNodes(plan, facts.nodes);
  const shapes = memberOperands(plan);
  const shards = shapes.shards;
  const adjust: OperandShapes = (k, ops) => ops.map((o, i) => {
    const columns = i === 2 && o ? biasColumns(shapes, k, o) : undefined;
    return columns && o ? { ...o, shape: columns } : o;
  });
  const kernels = new Map(plan.dataflow.kernels.map((k) => [k.name, k]));
  const collectives = new Map(p.collectiveKernels.map((c) => [c.kernel, c]));
  const outputs = outputStages(plan, facts.graph.outputs);
  const inbox = new Map<string, "host" | "bytes">();
  p.stages.forEach((stage, index) => {
    const socket = stage.sockets[0]!;
    const mem = new AbstractMemory(plan, target, stageScope(plan, stage));
    hostStart(mem, facts);
    checkLoad(mem, facts, shards);
    for (let s = stage.firstSection; s <= stage.lastSection; s++) {
      const section = plan.sections[s]!;
      mem.beginSection(s);
      for (const send of p.sends) {
        if (send.toStage !== index || send.beforeSection !== s) continue;
        const carried = inbox.get(`${send.fromStage} ${send.tensor}`) ?? refuse(message.noSend(index, send.tensor, send.fromStage, mem.where));
        if (carried === "host") mem.host.add(send.tensor);
        mem.write(send.tensor, `the send of '${send.tensor}' from stage ${send.fromStage} to stage ${send.toStage} (socket ${socket})`);
      }
      plan.transfers.forEach((t, i) => {
        if (t.beforeSection === s) mem.transfer(t, `transfer ${i} (${t.from} -> ${t.to}) on socket ${socket}`);
      });
      for (const ka of section.kernels) {
        const k = kernels.get(ka.kernel) ?? refuse(message.unknownKernel(section.name, ka.kernel));
        if (k.kind !== "collective") {
          checkKernel(mem, facts, k, nodes, adjust);
          continue;
        }
        const who = `${kernelLabel(k, mem.where)} on sockets ${stage.sockets.slice(0, group).join(", ")}`;
        if (k.inputs.length !== k.outputs.length || k.inputs.length === 0) refuse(message.collectivePairs(who, k));
        k.inputs.forEach((input, pair) => {
          const i = mem.info(input), o = mem.info(k.outputs[pair]!);
          if (i.dtype !== o.dtype) refuse(message.collectiveDType(who, i, o));
          mem.read(input, who);
          const problem = message.collectiveShapes(who, collectives.get(k.name)!.kind, i, o, group, shards);
          if (problem) refuse(problem);
          mem.write(o.name, who);
        });
      }
      if (s === stage.lastSection) {
        for (const send of p.sends) {
          if (send.fromStage !== index) continue;
          if (!mem.host.has(send.tensor)) mem.read(send.tensor, `the send of '${send.tensor}' to stage ${send.toStage} (socket ${socket})`);
          inbox.set(`${index} ${send.tensor}`, mem.host.has(send.tensor) ? "host" : "bytes");
        }
        for (const name of outputs.get(index) ?? []) mem.read(name, `the host, reading graph output '${name}' back from socket ${socket},`);
      }
      mem.endSection(s);
    }
  });
}

export type { TierName };
