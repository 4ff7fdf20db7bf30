// The kernels of the primitive ONNX ops, the ones a composite's decomposition may
// use (ir/graph/ops/decompose.ts says which): the families that make them, read
// directly rather than through the kernel table, which holds the composites
// whose kernels run these.

import type { OpKernel } from "./op-kernel.js";
import { ELEMENTWISE_KERNELS } from "./elementwise.js";
import { SHAPE_KERNELS } from "./shape.js";
import { DATA_KERNELS } from "./data.js";
import { NN_KERNELS } from "./nn.js";
import { REDUCE_KERNELS } from "./reduce.js";
import { ACTIVATION_KERNELS } from "./activation.js";
import { REPEAT_KERNELS } from "./repeat.js";
import { QUANT_KERNELS } from "./quant.js";

/** The ONNX-domain (domain "") kernels of the primitive families, by op type. */
export const PRIMITIVE_KERNELS: ReadonlyMap<string, OpKernel> = new Map([
  ...Object.entries({ ...ELEMENTWISE_KERNELS, ...SHAPE_KERNELS, ...DATA_KERNELS, ...NN_KERNELS, ...REDUCE_KERNELS, ...ACTIVATION_KERNELS, ...REPEAT_KERNELS }),
  ...QUANT_KERNELS.filter((e) => e.domain === "").map((e) => [e.op, e.kernel] as const),
]);
