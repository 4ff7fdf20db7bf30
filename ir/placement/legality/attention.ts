// Attention's stages as a plan's kernels hold them: which stage a kernel of an
// attention node computes, and which operands that stage must read.

import type { Node } from "../../graph/graph.js";
import type { DfKernel } from "../../dataflow/dataflow.js";
import { message } from "./words.js";

/**
 * What a kernel of an attention node's `stage` must read, in order, besides the
 * layer's cache: the node's own operands (fused), or the stage before's result
 * (and the mask, for the masking stage).
 */
export function attentionStageInputs(node: Node, stage: NonNullable<ReturnType<typeof attentionStage>>, decode: boolean): string[] {
  const [q, key, v, mask] = node.inputs as [string, string, string, string | undefined];
  // A decode step's mask is the cache's extent, not an operand (compiler/lower/attention.ts).
  const masked = mask !== undefined && mask !== "" && !decode ? [mask] : [];
  switch (stage) {
    case "fused": return [q, key, v, ...masked];
    case "scores": return [q, key];
    case "scaled": return [`${node.name}/scores`];
    case "masked": return [`${node.name}/scaled`, ...masked];
    case "probs": return [`${node.name}/masked`];
    case "context": return [`${node.name}/probs`, v];
  }
}

/** Refusal of a kernel that reads other than its attention stage needs, if any. */
export function attentionInputsProblem(k: DfKernel, node: Node, stage: NonNullable<ReturnType<typeof attentionStage>>, caches: ReadonlySet<string>,
  decode: boolean): string | undefined {
  const want = attentionStageInputs(node, stage, decode);
  const got = k.inputs.filter((i) => !caches.has(i));
  const same = got.length === want.length && got.every((x, i) => x === want[i]);
  return same ? undefined : message.stageInputs(k, stage, node.name, want);
}

/** Attention's stage that an unfused kernel computes, from the tensor it writes. */
export function attentionStage(k: DfKernel, node: Node): "fused" | "scores" | "scaled" | "masked" | "probs" | "context" | undefined {
  if (k.kind === "attention") return "fused";
  const out = k.outputs[0];
  for (const s of ["scores", "scaled", "masked", "probs"] as const) if (out === `${node.name}/${s}`) return s;
  return out === node.outputs[0] ? "context" : undefined;
}

/**
 * Whether a kernel of this attention runs a decode step over the attention's own
 * cache (the mask then is the cache's extent). Attention over a cache the graph
 * takes and returns (its keys a kv-cache tensor) reads its operands as they are.
 */
export const decodesOwnCache = (phase: string, keyRole: string): boolean => phase === "decode" && keyRole !== "kv-cache";

export const isAttentionNode = (node: Pick<Node, "domain" | "op">): boolean => node.domain === "tierflow" && node.op === "Attention";


