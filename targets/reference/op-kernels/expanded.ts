// Reference kernels of the ops defined by their decomposition (ir/graph/ops/expanded.ts:
// onnxruntime's fused normalisations and GELUs): each runs its decomposition.

import { EXPANDED_OPS } from "../../../ir/graph/ops/expanded.js";
import type { KernelEntry } from "./op-kernel.js";
import { decompositionKernel } from "./decomposition.js";

export const EXPANDED_KERNELS: readonly KernelEntry[] = EXPANDED_OPS.map((def) => ({ domain: def.domain, op: def.op, kernel: decompositionKernel(def) }));
