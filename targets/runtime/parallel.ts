// Execute a node-level plan (one with a `parallel` part) by simulating every
// socket it uses: each socket is its own DeviceMemory (its own SRAM, HBM and
// DDR arenas, checked against the plan's allocations of its pipeline stage
// exactly as a single-socket run is), loaded with its part of every sharded
// weight, running the per-socket program on its part of the batch.
//
// Order: replica by replica; within a replica, micro-batch by micro-batch
// through the stages in order (GPipe's schedule without the overlap, which
// changes times, not values); within a stage, the sections in order and the
// kernels of a section in lockstep over the group, so that a collective finds
// every member's input written and runs across the group's memories
// (collectives.ts). What a stage sends to the next is read where the plan
// leaves it at the stage's end and written, before the receiving stage's first
// section, where that stage's plan puts it (same group member). Weights stay
// loaded from one micro-batch to the next.

import type { Node } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import type { CollectiveKernel, ParallelStage, Plan, StageSend, TensorShard } from "../../ir/placement/plan.js";
import type { Tensor } from "../../ir/tensor.js";
import { fail } from "../../ir/diagnostics.js";
import { dtypeBytes } from "../../ir/dtype.js";
import { checkInputs } from "../reference/interpreter.js";
import type { Block } from "./arena.js";
import { ResidencyError } from "./arena.js";
import type { BatchSplit } from "./batch-split.js";
import { batchPiece, batchSplit, checkNodeBatch, joinBatch, pieceCount, pieceIndex } from "./batch-split.js";
import { bytesToTensor } from "./bytes.js";
import { runCollective } from "./collectives.js";
import type { ExecuteOptions, ExecuteResult, SectionTiming } from "./execute.js";
import type { KernelEnv } from "./kernel-env.js";
import { describeKernel } from "./kernel-env.js";
import { runKernel } from "./kernels.js";
import { loadModelData } from "./load.js";
import { DeviceMemory, RESIDENT_ROLES } from "./memory.js";
import { checkParallelPlan, groupOf } from "../../ir/placement/parallel-checks.js";
import { memberOperands, slicePart } from "./socket-program.js";
import { outputStages, partOf, socketNodes, stageScope } from "../../ir/placement/socket-scope.js";
import { message } from "../../ir/placement/legality.js";
import type { TraceRecorder } from "./trace.js";


/** One simulated socket: its place in the layout and its memory. */
interface Socket {
  readonly id: number;
  readonly member: number;
  readonly memory: DeviceMemory;
  readonly env: KernelEnv;
  readonly trace: TraceRecorder | undefined;
}

/** A value in flight from one stage to the next: device bytes, or a host value (shape arithmetic). */
type Message = { readonly bytes: Uint8Array } | { readonly value: Tensor };

interface Run {
  readonly plan: Plan;
  readonly options: ExecuteOptions;
  readonly nodes: ReadonlyMap<string, Node>;
  readonly kernels: ReadonlyMap<string, DfKernel>;
  readonly collectives: ReadonlyMap<string, CollectiveKernel>;
  /** Sharded tensors, and every tensor's role, by name. */
  readonly shards: ReadonlyMap<string, TensorShard>;
  readonly roles: ReadonlyMap<string, string>;
  readonly group: number;
  readonly peak: Record<"sram" | "hbm" | "ddr", number>;
  readonly timings: SectionTiming[];
  /** Graph outputs by the stage whose kernels produce them. */
  readonly outputsOf: ReadonlyMap<number, readonly string[]>;
}

function openSocket(run: Run, stage: ParallelStage, id: number, member: number): Socket {
  const { plan, options } = run;
  const graph = mainGraph(options.graph);
  const trace = options.trace?.socket(id);
  const scope = stageScope(plan, stage);
  const memory = new DeviceMemory(plan, options.target, (tier, used) => {
    run.peak[tier] = Math.max(run.peak[tier], used);
    trace?.occupancy(tier, used);
  }, scope);
  const literals = new Map<string, Tensor>();
  for (const [name, c] of graph.constants) if (c.kind === "literal") literals.set(name, c.tensor);
  for (const [name, t] of literals) memory.host.set(name, t);
  const env: KernelEnv = {
    memory, opset: options.graph.opsets[""] ?? 0, graphTypes: graph.types, literals, adjustOperands: memberOperands(plan, member, run.group),
  };
  loadModelData(plan, graph, memory, options.modelDir, trace, {
    ...scope,
    sharded: (name) => run.shards.has(name),
    part: (name, whole, dims) => {
      const s = run.shards.get(name)!;
      const local = memory.info(name).shape, cut = dims.map((d, i) => (i === s.axis ? d / s.parts : d));
      if (Number.isInteger(cut[s.axis]) && (cut.length !== local.length || cut.some((d, i) => d !== local[i]))) {
        fail(`shard of '${name}': [${dims.join(", ")}] split along axis ${s.axis} into ${s.parts} parts is [${cut.join(", ")}], but the plan's per-socket tensor is [${local.join(", ")}]`);
      }
      return slicePart(whole, dims, dtypeBytes(memory.info(name).dtype), s.axis, s.parts, partOf(member, s.parts, run.group), name);
    },
  });
  return { id, member, memory, env, trace };
}

function deliver(socket: Socket, send: StageSend, message: Message): void {
  const what = `the send of '${send.tensor}' from stage ${send.fromStage} to stage ${send.toStage} (socket ${socket.id})`;
  const at = socket.trace?.now() ?? 0;
  if ("value" in message) {
    socket.memory.host.set(send.tensor, message.value);
    socket.memory.store(send.tensor, message.value, what);
  } else {
    const dest = socket.memory.destination(send.tensor, what);
    if (dest.data.byteLength !== message.bytes.byteLength) throw new ResidencyError(`${what} carries ${message.bytes.byteLength} bytes; the receiving stage sizes it ${dest.data.byteLength}`);
    dest.data.set(message.bytes);
    dest.commit();
  }
  socket.trace?.link(`recv ${send.tensor}`, at, { tensor: send.tensor, fromStage: send.fromStage, toStage: send.toStage, bytes: send.bytes }, send.seconds);
}

function capture(socket: Socket, tensor: string, reader: string): Message {
  // A value the host holds goes as a host value, so a host kernel of the next stage can compute with it.
  const value = socket.memory.host.get(tensor);
  if (value) return { value };
  return { bytes: socket.memory.read(tensor, reader).slice() };
}

/** Run one stage's sections for one micro-batch on its group; returns the messages it sends and the outputs it produced (per member). */
function runStage(run: Run, index: number, members: readonly Socket[], inbox: ReadonlyMap<string, readonly Message[]>, lastPass: boolean): {
  sent: Map<string, Message[]>; outputs: Map<string, Tensor>[];
} {
  const { plan } = run;
  const stage = plan.parallel!.stages[index]!;
  const graph = mainGraph(run.options.graph), { shards, roles } = run;
  const sent = new Map<string, Message[]>();
  const outputs = members.map(() => new Map<string, Tensor>());
  // Weights held for the whole stage stay for the next micro-batch (they share no bytes with anything).
  const resident = (b: Block) =>
    b.firstSection === stage.firstSection && b.lastSection === stage.lastSection && RESIDENT_ROLES.has(roles.get(b.tensor) ?? "");
  for (let s = stage.firstSection; s <= stage.lastSection; s++) {
    const section = plan.sections[s]!;
    const start = performance.now();
    for (const m of members) {
      m.memory.beginSection(s);
      m.trace?.sectionStarted(s);
    }
    const traceStart = members.map((m) => m.trace?.now() ?? 0);
    for (const send of plan.parallel!.sends) {
      if (send.toStage !== index || send.beforeSection !== s) continue;
      const messages = inbox.get(`${send.fromStage} ${send.tensor}`);
      if (!messages) throw new ResidencyError(message.noSend(index, send.tensor, send.fromStage, members[0]!.memory.label(s)));
      members.forEach((m, i) => deliver(m, send, messages[i]!));
    }
    for (const m of members) {
      plan.transfers.forEach((t, i) => {
        if (t.beforeSection !== s) return;
        const at = m.trace?.now() ?? 0;
        m.memory.transfer(t, `transfer ${i} (${t.from} -> ${t.to}) on socket ${m.id}`);
        m.trace?.transfer(t, i, at);
      });
    }
    for (const ka of section.kernels) {
      const k = run.kernels.get(ka.kernel);
      if (!k) fail(`section ${section.name} names kernel ${ka.kernel}, which the plan's dataflow module does not have`);
      if (k.kind === "collective") {
        const record = run.collectives.get(k.name)!; // checkParallelPlan: every collective is listed
        const at = members.map((m) => m.trace?.now() ?? 0);
        runCollective(k, record, members.map((m) => m.memory), shards, `${describeKernel(k, members[0]!.memory)} on sockets ${members.map((m) => m.id).join(", ")}`);
        members.forEach((m, i) => m.trace?.link(`${record.kind} ${k.name}`, at[i]!, { kernel: k.name, kind: record.kind, bytes: record.bytes, sockets: members.map((x) => x.id) }, record.seconds));
        continue;
      }
      for (const m of members) {
        const at = m.trace?.now() ?? 0;
        const tiles = runKernel(k, m.env, run.nodes);
        m.trace?.kernel(k, s, at, tiles);
      }
    }
    if (s === stage.lastSection) {
      for (const send of plan.parallel!.sends) {
        if (send.fromStage !== index) continue;
        const reader = `the send of '${send.tensor}' to stage ${send.toStage}`;
        sent.set(`${index} ${send.tensor}`, members.map((m) => capture(m, send.tensor, `${reader} (socket ${m.id})`)));
      }
      for (const name of run.outputsOf.get(index) ?? []) {
        members.forEach((m, i) => {
          const at = m.trace?.now() ?? 0;
          const bytes = m.memory.read(name, `the host, reading graph output '${name}' back from socket ${m.id},`);
          const info = m.memory.info(name);
          outputs[i]!.set(name, bytesToTensor(bytes.slice(), info.dtype, graph.types.get(name)?.dtype ?? info.dtype, info.shape));
          m.trace?.readback(name, at);
        });
      }
    }
    for (const [i, m] of members.entries()) {
      m.memory.endSection(s, lastPass ? undefined : resident);
      m.trace?.section(s, traceStart[i]!);
    }
    const timing = run.timings[s]!;
    run.timings[s] = { ...timing, measuredSeconds: timing.measuredSeconds + (performance.now() - start) / 1000 };
  }
  return { sent, outputs };
}

export function executeParallelPlan(plan: Plan, inputs: Readonly<Record<string, Tensor>>, options: ExecuteOptions): ExecuteResult {
  const p = checkParallelPlan(plan);
  const graph = mainGraph(options.graph);
  checkInputs(graph, inputs);
  const split: BatchSplit = batchSplit(plan);
  checkNodeBatch(plan, inputs, split);
  const group = groupOf(p);
  const nodes = new Map<string, Node>(graph.nodes.map((n) => [n.name, n]));
  const run: Run = {
    plan, options, group, nodes: socketNodes(plan, nodes),
    kernels: new Map(plan.dataflow.kernels.map((k) => [k.name, k])),
    collectives: new Map(p.collectiveKernels.map((c) => [c.kernel, c])),
    shards: new Map(p.shards.map((s) => [s.tensor, s])), roles: new Map(plan.dataflow.tensors.map((t) => [t.name, t.role])),
    peak: { sram: 0, hbm: 0, ddr: 0 },
    timings: plan.sections.map((s) => ({ name: s.name, predictedSeconds: s.cost.seconds, measuredSeconds: 0 })),
    outputsOf: outputStages(plan, graph.outputs),
  };
  const count = pieceCount(split);
  const pieces = new Array<Map<string, Tensor>>(count);
  for (let r = 0; r < split.replicas; r++) {
    // Each stage's group on its own sockets: member i of replica r is the stage's socket r * group + i.
    const stages = p.stages.map((stage) => Array.from({ length: group }, (_, i) => openSocket(run, stage, stage.sockets[r * group + i]!, i)));
    for (let u = 0; u < split.microBatches; u++) {
      // Members share a micro-batch's rows, except expert-parallel shares (tp = 1), one per member.
      const pieceOf = (member: number) => pieceIndex(split, r, u, split.shares > 1 ? member : 0);
      let inbox = new Map<string, Message[]>();
      stages.forEach((members, s) => {
        for (const m of members) for (const [name, t] of Object.entries(inputs)) m.memory.host.set(name, batchPiece(t, count, pieceOf(m.member)));
        const { sent, outputs } = runStage(run, s, members, inbox, u === split.microBatches - 1);
        inbox = new Map([...inbox, ...sent]);
        outputs.forEach((produced, m) => {
          if (split.shares === 1 && m > 0) return; // every member of a tensor-parallel group holds the same outputs
          pieces[pieceOf(m)] = new Map([...(pieces[pieceOf(m)] ?? []), ...produced]);
        });
      });
    }
  }
  const outputs = Object.create(null) as Record<string, Tensor>; // value names such as "__proto__" stay plain keys
  for (const name of new Set(graph.outputs)) outputs[name] = joinBatch(pieces.map((piece) => piece.get(name)!));
  return { outputs, sections: run.timings, peak: run.peak };
}
