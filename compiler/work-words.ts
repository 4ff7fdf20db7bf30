// A plan's work in the model's own terms, for reports and the visualiser:
// tokens for a language model, images for a model of image tensors, inputs
// otherwise; and what its memory floor moves (a KV cache only where the plan
// keeps one).

import { isFloat } from "../ir/dtype.js";
import type { DType } from "../ir/dtype.js";
import type { Plan } from "../ir/placement/plan.js";

/**
 * The plan's unit of work in the model's own terms: tokens for a model that takes
 * them (its rate counts every prompt token, so a pass does batch x seq), else
 * the batch's inputs (images for a model of image tensors).
 */
export function workWords(plan: Plan): { tokens: boolean; items: string; per: string } {
  const o = plan.options, p = plan.prediction;
  if (o.phase === "decode") return { tokens: true, items: "tokens", per: "per token" };
  const perPass = Math.round(p.tokensPerSecond * p.seconds);
  if (o.seq === 1 || perPass !== o.batch) return { tokens: true, items: "tokens", per: "per prompt batch" };
  const images = plan.dataflow.tensors.some((t) => plan.dataflow.inputs.includes(t.name) && t.shape.length === 4 && isFloat(t.dtype as DType));
  return { tokens: false, items: images ? "images" : "inputs", per: "per batch" };
}

/** What the memory floor moves: the weights, and the KV cache where the plan keeps one. */
export function floorBytes(plan: Plan): string {
  return plan.dataflow.tensors.some((t) => t.role === "kv-cache") ? "weights and KV cache" : "weights";
}
