// Every fusion pattern, in one list. Order matters only between patterns that
// share a root op and could both match the same node: the first one wins. Patterns
// that build on a composite (SwiGLU on SiLU, the gate renormalisation on MoEGate,
// the experts on SwiGLU) apply in a later sweep of the driver.

import type { FusionPattern } from "../pattern.js";
import { LAYER_NORM, LAYER_NORM_NO_BIAS, RMS_NORM } from "./norm.js";
import { GELU_ERF, GELU_TANH, SILU, SWIGLU } from "./activation.js";
import { ROTARY } from "./rotary.js";
import { ATTENTION, ATTENTION_OVER_REPEATED_HEADS } from "./attention.js";
import { MATMUL_BIAS } from "./matmul-bias.js";
import { MOE_EXPERTS, MOE_GATE, MOE_GATE_NORMALIZE } from "./moe.js";
import { DEQUANT_MATMUL } from "./quant.js";

export const FUSION_PATTERNS: readonly FusionPattern[] = [
  RMS_NORM, LAYER_NORM, LAYER_NORM_NO_BIAS,
  GELU_ERF, GELU_TANH, SILU, SWIGLU,
  ROTARY, ATTENTION, ATTENTION_OVER_REPEATED_HEADS, MATMUL_BIAS, DEQUANT_MATMUL,
  MOE_GATE, MOE_GATE_NORMALIZE, MOE_EXPERTS,
];
