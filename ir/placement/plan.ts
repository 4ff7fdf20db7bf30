// The placement level: sections of kernels mapped onto the chip's units, every
// tensor in a memory tier at an address range, explicit transfers between
// tiers, and the cost model's predictions. plan.json is this level's JSON form.

import type { DataflowModule } from "../dataflow/dataflow.js";

export const PLAN_VERSION = 3;

export type TierName = "sram" | "hbm" | "ddr";

/** Allocations start at multiples of this many bytes. */
export const ALIGNMENT = 64;

/** One kernel's share of a section: units given and how busy they are. */
export interface KernelAllocation {
  readonly kernel: string;
  readonly computeUnits: number;
  readonly memoryUnits: number;
  /** Fraction of the slowest stage's rate this stage sustains (1 = it is the bottleneck). */
  readonly utilisation: number;
  /** Seconds to stream the kernel's tiles with its units. */
  readonly seconds: number;
}

export interface SectionCost {
  readonly computeSeconds: number;
  readonly hbmSeconds: number;
  readonly ddrSeconds: number;
  readonly sramSeconds: number;
  readonly overheadSeconds: number;
  readonly seconds: number;
  /** What set the time: the largest term ("link": the collectives of a node-level plan). */
  readonly bound: "compute" | "hbm" | "ddr" | "sram" | "link" | "overhead";
  readonly hbmBytes: number;
  readonly ddrBytes: number;
  /**
   * Node-level plans, sections holding collectives only: seconds of bytes over
   * the socket links, and of the collectives' steps. Streamed (dataflow) the
   * transfer overlaps the other terms and the latency adds; as kernels both add.
   */
  readonly linkSeconds?: number;
  readonly linkLatencySeconds?: number;
}

export interface Section {
  readonly name: string;
  readonly kernels: readonly KernelAllocation[];
  /** Seconds per tile of the pipeline's slowest stage. */
  readonly initiationInterval: number;
  readonly computeUnits: number;
  readonly memoryUnits: number;
  readonly sramBytes: number;
  readonly cost: SectionCost;
}

export interface Allocation {
  readonly tensor: string;
  readonly tier: TierName;
  readonly offset: number;
  readonly bytes: number;
  /** Index of the first and last section that touch it ([0, last] for tensors resident throughout). */
  readonly firstSection: number;
  readonly lastSection: number;
}

/**
 * A copy between tiers, or between the host and a tier: inputs go host -> tier
 * before the first section; a value a host kernel computes with goes tier ->
 * host before that kernel's section (compiler/schedule/host-device.ts).
 */
export interface Transfer {
  readonly tensor: string;
  readonly from: TierName | "host";
  readonly to: TierName | "host";
  readonly bytes: number;
  /** Runs before this section (-1: at load time, before the first). */
  readonly beforeSection: number;
  readonly seconds: number;
}

export interface Prediction {
  readonly seconds: number;
  /** prefill: tokens per second over the batch's prompts; decode: tokens per second over the batch. */
  readonly tokensPerSecond: number;
  readonly floorSeconds: number;
  readonly floorBound: "compute" | "weights" | "memory";
  readonly ratioToFloor: number;
}

/** One pipeline stage of a node-level plan: the sections it runs and the sockets running them. */
export interface ParallelStage {
  /** Every socket that runs this stage: one per member of the group, in each replica. */
  readonly sockets: readonly number[];
  readonly firstSection: number;
  readonly lastSection: number;
  /** One micro-batch through the stage's sections. */
  readonly seconds: number;
  /** Peak bytes per tier on each of the stage's sockets. */
  readonly occupancy: Readonly<Record<TierName, number>>;
}

/** A tensor split over a group: socket i of the group holds part floor(i * parts / group) along `axis`. */
export interface TensorShard {
  readonly tensor: string;
  readonly axis: number;
  readonly parts: number;
}

export type CollectiveKind = "all-reduce" | "reduce-scatter" | "all-gather" | "all-to-all" | "send";

export interface CollectiveKernel {
  /** A kernel of kind "collective" in the dataflow module. */
  readonly kernel: string;
  readonly kind: CollectiveKind;
  /** Bytes per socket (the all-reduced tensor, the gathered whole, what one socket sends all-to-all). */
  readonly bytes: number;
  /** Sockets taking part. */
  readonly sockets: number;
  /** Link time: transfer plus the steps' latency. */
  readonly seconds: number;
}

/** An activation a stage receives from an earlier stage (same member of the group). */
export interface StageSend {
  readonly tensor: string;
  readonly fromStage: number;
  readonly toStage: number;
  readonly bytes: number;
  readonly beforeSection: number;
  readonly seconds: number;
}

export interface NodePrediction {
  /** One step of a replica's batch: decode, one token for every request; prefill, every prompt. */
  readonly stepSeconds: number;
  /** One micro-batch through every stage. */
  readonly latencySeconds: number;
  /** decode: tokens per second each request sees; prefill: prompt tokens per second of one request. */
  readonly tokensPerSecondPerUser: number;
  /** Over the whole node: every replica, pipelined micro-batches. */
  readonly tokensPerSecond: number;
  /** Roofline of one step over the replica's sockets. */
  readonly floorSeconds: number;
  /** Step time the collectives and stage-to-stage sends add. */
  readonly collectiveSeconds: number;
  /** Fraction of a stage's time idle waiting on the pipeline. */
  readonly bubbleFraction: number;
  /** Weights DDR -> HBM on every socket at the node's load bandwidth (once). */
  readonly loadSeconds: number;
}

/** Disaggregated prefill/decode: the other phase's group and the KV cache handed between them. */
export interface Disaggregation {
  readonly prefillSockets: readonly number[];
  readonly prefillLayout: string;
  /** One prompt of the plan's length, batch 1. */
  readonly prefillSeconds: number;
  readonly decodeSockets: readonly number[];
  readonly decodeLayout: string;
  /** One decode step at the plan's batch. */
  readonly decodeSeconds: number;
  /** KV cache of one request after its prompt, prefill group -> decode group. */
  readonly kvBytesPerRequest: number;
  readonly kvTransferSeconds: number;
}

/**
 * How the per-socket program of a node-level plan is spread over the node.
 * The plan's dataflow module, sections and allocations are one socket's
 * (every member of a tensor-parallel group runs the same program on its own
 * shards); sections are numbered across stages in order, and each allocation
 * lives inside one stage, in the memory of that stage's sockets.
 */
export interface ParallelPlan {
  readonly layout: { readonly tp: number; readonly pp: number; readonly ep: number; readonly dp: number; readonly microBatches: number };
  /** Sockets of the target. */
  readonly sockets: number;
  readonly collectives: "streamed" | "kernel";
  readonly stages: readonly ParallelStage[];
  readonly shards: readonly TensorShard[];
  readonly collectiveKernels: readonly CollectiveKernel[];
  readonly sends: readonly StageSend[];
  readonly prediction: NodePrediction;
  readonly disaggregation?: Disaggregation;
}

/**
 * The model a plan was compiled from: its file name, the path compile was
 * given, and (once written to a folder) that path relative to the plan's
 * folder, so a plan finds its model from anywhere; the sha256 ties the file to
 * the plan whichever way it was found.
 */
export interface PlanModel {
  readonly file: string;
  readonly sha256: string;
  readonly given?: string;
  readonly path?: string;
}

/**
 * A placement plan, the compiler's output (plan.json): sections of dataflow kernels mapped
 * onto the chip's units, every tensor in a memory tier at an address range, the transfers
 * between tiers, and the cost model's prediction. See {@link compile} and {@link readPlan}.
 */
export interface Plan {
  /** The plan format's version; {@link readPlan} refuses others. */
  readonly version: number;
  readonly model: PlanModel;
  /** The target's name. */
  readonly target: string;
  readonly options: {
    readonly opt: 0 | 1 | 2;
    readonly phase: DataflowModule["phase"];
    readonly batch: number;
    readonly seq: number;
    readonly dtype: string;
  };
  readonly bindings: Readonly<Record<string, number>>;
  readonly fusion: Readonly<Record<string, number>>;
  readonly dataflow: DataflowModule;
  readonly sections: readonly Section[];
  readonly allocations: readonly Allocation[];
  readonly transfers: readonly Transfer[];
  /** Peak bytes in use per tier. */
  readonly occupancy: Readonly<Record<TierName, number>>;
  readonly prediction: Prediction;
  /** Node-level plans only (--parallel): the layout over the node's sockets. */
  readonly parallel?: ParallelPlan;
}
