// A quick estimate of a candidate section's time, used while partitioning:
// the pipeline's compute time with balanced units, or the memory traffic of
// what it reads from outside itself, whichever is larger, plus the overhead
// of one more section. (The full cost model runs after placement.)

import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import type { Target } from "../../targets/target.js";
import { GrowingSection, sectionComputeSeconds } from "./allocate.js";
import type { SectionEstimate } from "./sections.js";

/** Bytes the kernels read from outside themselves (what the section's traffic is). */
export function externalBytes(kernels: readonly DfKernel[]): number {
  const produced = new Set(kernels.flatMap((k) => k.outputs));
  let external = 0;
  for (const k of kernels) for (const [t, bytes] of Object.entries(k.reads)) if (!produced.has(t)) external += bytes;
  return external;
}

/** `external`: externalBytes(kernels), when the caller keeps it as the section grows. */
export function estimateSection(kernels: readonly DfKernel[], target: Target, external = externalBytes(kernels)): number {
  return estimateOf(sectionComputeSeconds(kernels, target), external, target);
}

function estimateOf(computeSeconds: number, external: number, target: Target): number {
  return Math.max(computeSeconds, external / target.hbm.bandwidth) + target.overheads.sectionSwitchSeconds + target.overheads.launchSeconds;
}

/**
 * estimateSection of the sectioning's open section as it grows a kernel at a
 * time (sections.ts's SectionEstimate), each kernel's numbers gathered once.
 */
export class SectionEstimator implements SectionEstimate {
  private readonly section: GrowingSection;
  private readonly single: GrowingSection;

  constructor(private readonly target: Target) {
    this.section = new GrowingSection(target);
    this.single = new GrowingSection(target);
  }

  clear(): void {
    this.section.clear();
  }

  add(k: DfKernel): void {
    this.section.add(k);
  }

  open(external: number): number {
    return estimateOf(this.section.seconds(), external, this.target);
  }

  withKernel(k: DfKernel, external: number): number {
    return estimateOf(this.section.secondsWith(k), external, this.target);
  }

  withKernelAtMost(k: DfKernel, external: number): number {
    return estimateOf(this.section.secondsAtMost(k), external, this.target);
  }

  openAtLeast(external: number): number {
    return estimateOf(0, external, this.target);
  }

  alone(k: DfKernel, external: number): number {
    this.single.clear();
    this.single.add(k);
    return estimateOf(this.single.seconds(), external, this.target);
  }
}
