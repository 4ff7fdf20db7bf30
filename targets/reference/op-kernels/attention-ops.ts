// Reference kernels of the imported attention ops (ir/graph/ops/attention-ops.ts):
// direct ones that compute what onnxruntime does, for ONNX's Attention and
// RotaryEmbedding and onnxruntime's RotaryEmbedding, MultiHeadAttention and
// GroupQueryAttention.

import { CONTRIB_DOMAIN } from "../../../ir/graph/ops/util.js";
import { contribRotaryEmbedding, groupQueryAttention, multiHeadAttention, onnxAttention, onnxRotaryEmbedding } from "../kernels/attention-ops.js";
import type { KernelEntry } from "./op-kernel.js";
import { kernelsOf } from "./op-kernel.js";

export const ATTENTION_OP_KERNELS: readonly KernelEntry[] = [
  ...kernelsOf("", { Attention: onnxAttention, RotaryEmbedding: onnxRotaryEmbedding }),
  ...kernelsOf(CONTRIB_DOMAIN, { RotaryEmbedding: contribRotaryEmbedding, MultiHeadAttention: multiHeadAttention, GroupQueryAttention: groupQueryAttention }),
];
