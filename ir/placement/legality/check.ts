// The plan's legality: everything the runtime (targets/runtime) would refuse
// about a plan, found before it runs, in the runtime's own words (words.ts). The
// compiler checks every plan it is about to write, `tierflow verify` checks a
// plan file, and the runtime checks a plan before it loads a byte, all with
// checkPlanLegality; the runtime's own checks during the run then never fire on
// a legal plan (test/property/refusals.test.ts holds them to that).
//
// It is an abstract run: the plan executed without data, load time, then the
// sections in order and each section's kernels in order, as execute.ts and
// parallel.ts do, keeping only what the runtime's checks depend on
// (memory.ts: residency and host values; kernels.ts: each kernel against its
// node, its stage buffer and its tiling; attention.ts: attention's stages).

import type { Module } from "../../graph/graph.js";
import { byteSize } from "../../dtype.js";
import type { DType } from "../../dtype.js";
import { elementCount } from "../../tensor.js";
import type { Target } from "../../target.js";
import type { Plan, TensorShard } from "../plan.js";
import { checkParallelPlan, groupOf } from "../parallel-checks.js";
import { biasColumns, memberOperands, outputStages, socketNodes, stageScope } from "../socket-scope.js";
import type { GraphFacts, OperandShapes } from "./kernels.js";
import { checkKernel, graphFacts } from "./kernels.js";
import { AbstractMemory, RESIDENT_ROLES } from "./memory.js";
import { decodeRefusal } from "./cache.js";
import { cachesOf, indexBy } from "../../dataflow/dataflow.js";
import { kernelLabel, message, refuse, sectionLabel } from "./words.js";

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
    const modelBytes = byteSize(storage, elementCount(loaded));
    if (modelBytes !== bytes) refuse(message.constantSize(name, modelBytes, bytes));
  };
  for (const a of mem.allocations.values()) {
    if (a.tier !== "ddr" || !resident(a.tensor)) continue;
    mem.write(a.tensor, `loading '${a.tensor}'`);
    fill(a.tensor, a.bytes);
  }
  // A decode step starts from its KV caches as the steps before left them.
  if (mem.plan.dataflow.phase === "decode") {
    for (const c of cachesOf(mem.plan.dataflow)) {
      if (!mem.allocationOf(c.present)) refuse(message.cacheTier(`filling the KV cache '${c.present}' from '${c.past}'`, c.present));
      mem.write(c.present, `filling the KV cache '${c.present}' from '${c.past}'`);
    }
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
  const facts = graphFacts(module);
  const decode = plan.dataflow.phase !== "prefill" ? decodeRefusal(plan, facts.nodes) : undefined;
  if (decode) refuse(decode);
  if (plan.sections.length === 0) refuse(message.noSections);
  const graphInputs = new Set(facts.graph.inputs);
  for (const name of plan.dataflow.inputs) if (!graphInputs.has(name)) refuse(message.planInput(name));
  if (plan.parallel) return checkParallelLegality(plan, target, facts);
  const scheduled = new Set<string>();
  for (const section of plan.sections) {
    for (const ka of section.kernels) {
      if (scheduled.has(ka.kernel)) refuse(message.kernelTwice(ka.kernel));
      scheduled.add(ka.kernel);
    }
  }
  for (const k of plan.dataflow.kernels) if (!scheduled.has(k.name)) refuse(message.kernelInNoSection(k.name));
  const mem = new AbstractMemory(plan, target);
  hostStart(mem, facts);
  const kernels = indexBy(plan.dataflow.kernels, (k) => k.name);
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

