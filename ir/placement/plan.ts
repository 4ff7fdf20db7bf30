// The placement level: sections of kernels mapped onto the chip's units, every
// tensor in a memory tier at an address range, explicit transfers between
// tiers, and the cost model's predictions. plan.json is this level's JSON form.

import type { DataflowModule } from "../dataflow/dataflow.js";

export const PLAN_VERSION = 1;

export type TierName = "sram" | "hbm" | "ddr";

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
  /** What set the time: the largest term. */
  readonly bound: "compute" | "hbm" | "ddr" | "sram" | "overhead";
  readonly hbmBytes: number;
  readonly ddrBytes: number;
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

export interface Transfer {
  readonly tensor: string;
  readonly from: TierName | "host";
  readonly to: TierName;
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

export interface Plan {
  readonly version: number;
  readonly model: { readonly file: string; readonly sha256: string };
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
}
