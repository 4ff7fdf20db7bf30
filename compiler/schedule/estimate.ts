// A quick estimate of a candidate section's time, used while partitioning:
// the pipeline's compute time with balanced units, or the memory traffic of
// what it reads from outside itself, whichever is larger, plus the overhead
// of one more section. (The full cost model runs after placement.)

import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import type { Target } from "../../targets/target.js";
import { sectionComputeSeconds } from "./allocate.js";

/** Bytes the kernels read from outside themselves (what the section's traffic is). */
export function externalBytes(kernels: readonly DfKernel[]): number {
  const produced = new Set(kernels.flatMap((k) => k.outputs));
  let external = 0;
  for (const k of kernels) for (const [t, bytes] of Object.entries(k.reads)) if (!produced.has(t)) external += bytes;
  return external;
}

/** `external`: externalBytes(kernels), when the caller keeps it as the section grows. */
export function estimateSection(kernels: readonly DfKernel[], target: Target, external = externalBytes(kernels)): number {
  const compute = sectionComputeSeconds(kernels, target);
  return Math.max(compute, external / target.hbm.bandwidth) + target.overheads.sectionSwitchSeconds + target.overheads.launchSeconds;
}
