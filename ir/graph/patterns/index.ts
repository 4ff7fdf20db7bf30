// The fusion patterns, in the lists their users combine by concatenation.
//
// GRAPH_PATTERNS is what the compiler's fuse-patterns pass applies
// (compiler/fusion/driver.ts). Order matters only between patterns that share a
// root op and could both match the same node: the first one wins. Patterns that
// build on a composite (SwiGLU on SiLU, the gate renormalisation on MoEGate, the
// experts on SwiGLU) apply in a later sweep of the driver.
//
// The reference interpreter (targets/reference/fusions.ts) runs a match as one
// step through the kernel of the op it builds, so it takes only the patterns
// whose ops' kernels give the bits of the nodes they replace, or leave the case
// to those nodes: SHARED_PATTERNS, each one of GRAPH_PATTERNS, then
// INTERPRETER_PATTERNS for the forms the interpreter runs fused and the graph
// pass leaves alone, most of them building exact composites (domain
// tierflow.exact, ir/graph/ops/composite-exact.ts) that no graph pattern builds
// and lowering never sees. REFERENCE_PATTERNS is that concatenation, in the
// interpreter's priority order: each takes its matches over the whole graph
// before the next looks. An interpreter pattern's name is what profiles call
// its step.

import type { FusionPattern } from "./pattern.js";
import { LAYER_NORM, LAYER_NORM_NO_BIAS, RMS_NORM, RMS_NORM_ROW_WEIGHT } from "./norm.js";
import { GELU_ERF, GELU_TANH, SILU, SWIGLU } from "./activation.js";
import { ROTARY } from "./rotary.js";
import { ATTENTION, ATTENTION_OVER_REPEATED_HEADS } from "./attention.js";
import { MATMUL_BIAS } from "./matmul-bias.js";
import { MOE_EXPERTS, MOE_GATE, MOE_GATE_NORMALIZE } from "./moe.js";
import { DEQUANT_MATMUL } from "./quant.js";
import { ATTENTION_EXACT } from "./attention-exact.js";
import { ACTIVATIONS_EXACT } from "./activation-exact.js";
import { GATHER_MATMUL, TRANSPOSE_MATMUL } from "./matmul-exact.js";
import { MATMUL_ADD } from "./matmul-bias.js";
import { SCALED_SOFTMAX } from "./softmax-exact.js";

export type { FusionPattern, GraphView } from "./pattern.js";
export { Matcher } from "./pattern.js";

export const GRAPH_PATTERNS: readonly FusionPattern[] = [
  RMS_NORM, LAYER_NORM, LAYER_NORM_NO_BIAS,
  GELU_ERF, GELU_TANH, SILU, SWIGLU,
  ROTARY, ATTENTION, ATTENTION_OVER_REPEATED_HEADS, MATMUL_BIAS, DEQUANT_MATMUL,
  MOE_GATE, MOE_GATE_NORMALIZE, MOE_EXPERTS,
];

/**
 * The graph patterns the interpreter runs too. The others build ops whose kernels round
 * differently from the exporters' nodes (LayerNormalization and Gelu compute in float64,
 * Attention scales by a number rather than the graph's Div), which would make a fused run
 * differ from a node-by-node one.
 */
export const SHARED_PATTERNS: readonly FusionPattern[] = [RMS_NORM, ROTARY];

/**
 * Forms only the interpreter fuses, in its priority order: attention first (it holds what
 * the later ones would take: a scaled Softmax, Transposes into MatMuls), an RMSNorm weight
 * written with leading 1s ([1, 1, n]), the activations, then MatMul with a gathered A, with
 * a bias Add, the scaled and masked Softmax, and MatMul of transposed operands. The shared
 * patterns before them (RMSNorm, Rotary) share no node with attention.
 */
export const INTERPRETER_PATTERNS: readonly FusionPattern[] = [
  ATTENTION_EXACT, RMS_NORM_ROW_WEIGHT, ...ACTIVATIONS_EXACT, GATHER_MATMUL, MATMUL_ADD, SCALED_SOFTMAX, TRANSPOSE_MATMUL,
];

/** What the reference interpreter matches, in priority order. */
export const REFERENCE_PATTERNS: readonly FusionPattern[] = [...SHARED_PATTERNS, ...INTERPRETER_PATTERNS];
