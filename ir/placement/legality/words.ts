// The runtime's words: every refusal of a plan, as one function of what it
// names. The runtime (targets/runtime) throws them as it runs, and the legality
// check (check.ts) throws the same ones before, so `verify` and `run` say the
// same thing about the same plan.

import type { Location } from "../../diagnostics.js";
import { TierflowError } from "../../diagnostics.js";
import { byteSize } from "../../dtype.js";
import type { Node } from "../../graph/graph.js";
import { elementCount } from "../../tensor.js";
import type { DfKernel, DfTensor } from "../../dataflow/dataflow.js";
import type { Allocation, Plan, TensorShard, Transfer } from "../plan.js";

/** A plan the runtime cannot run as placed. */
export class PlanRefusal extends TierflowError {
  constructor(message: string, location: Location = {}) {
    super(message, location);
    this.name = "PlanRefusal";
  }
}

export const refuse = (message: string, location: Location = {}): never => {
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
  decode: "the plan is for the decode phase, whose attention reads a KV cache filled by earlier steps that the graph has no input for; the runtime runs decode plans of models that take and return their KV cache (a with-past export), and prefill plans (`tierflow generate` re-runs the growing prefix)",
  decodeNode: "the plan is a node-level decode plan: the runtime runs decode steps of single-socket plans (node-level decode plans are for the cost model)",
  cachePast: (past: string, present: string) => `'${past}' is the front of the KV cache '${present}' and has no bytes of its own, but the plan sizes it`,
  cacheTier: (who: string, present: string) => `${who} appends to the KV cache '${present}', but the plan gives the cache no allocation: a cache lives in a tier for the whole run`,
  cacheShapes: (who: string, past: DfTensor, added: DfTensor, present: DfTensor) =>
    `${who}: '${past.name}' [${past.shape.join(", ")}] and '${added.name}' [${added.shape.join(", ")}] do not append to '${present.name}' [${present.shape.join(", ")}] on axis 2`,
  cacheInputs: (k: DfKernel, node: string, want: readonly string[]) =>
    `kernel ${k.name} appends to the KV cache of node '${node}' from (${k.inputs.map((i) => `'${i}'`).join(", ")}), not from (${want.map((i) => `'${i}'`).join(", ")})`,
  cacheFull: (who: string, present: string, held: number, added: number, capacity: number) =>
    `${who}: the KV cache '${present}' holds ${held} tokens and takes ${added} more, past its ${capacity}`,
  noSections: "the plan has no sections to run",
  kernelInNoSection: (kernel: string) => `kernel ${kernel} is in no section of the plan, so nothing would run it`,
  kernelTwice: (kernel: string) => `kernel ${kernel} is in more than one section of the plan`,
  planInput: (name: string) => `the plan's input '${name}' is not an input of the model's graph`,
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

/**
 * A tensor's bytes must be its shape's elements in its dtype, a KV cache's past
 * none (it is the front of its present); returns the refusal, if any.
 */
export function tensorSizeProblem(t: DfTensor, presentOf?: string): string | undefined {
  if (presentOf !== undefined) return t.bytes === 0 ? undefined : message.cachePast(t.name, presentOf);
  const bytes = byteSize(t.dtype, elementCount(t.shape));
  return bytes === t.bytes ? undefined : message.tensorBytes(t, bytes);
}


