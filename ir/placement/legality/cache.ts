// A KV cache the graph takes and returns (tierflow.CacheAppend, a with-past
// export) as the runtime (targets/runtime/cache.ts) runs it: the kernel reads
// the new tokens' rows and writes them into the cache's allocation after the
// tokens it holds, so the cache must live in a tier for the whole run; a
// decode step starts from a cache the runtime filled before the first
// section (from the past input, or from the step before).

import type { Node } from "../../graph/graph.js";
import type { DfKernel, DfTensor } from "../../dataflow/dataflow.js";
import type { Plan } from "../plan.js";
import { message } from "./words.js";

export const isCacheAppendNode = (node: Pick<Node, "domain" | "op">): boolean => node.domain === "tierflow" && node.op === "CacheAppend";

/** Refusal of a cache kernel whose operands are not its node's, or do not append on the token axis, if any. */
export function cacheAppendProblem(k: DfKernel, node: Node, who: string, info: (name: string) => DfTensor): string | undefined {
  const want: [string, string] = [node.inputs[0]!, node.inputs[1]!];
  if (k.inputs.length !== 2 || k.inputs[0] !== want[0] || k.inputs[1] !== want[1] || k.outputs[0] !== node.outputs[0]) {
    return message.cacheInputs(k, node.name, want);
  }
  const past = info(want[0]), added = info(want[1]), present = info(node.outputs[0]!);
  const fits = [past.shape, added.shape, present.shape].every((s) => s.length === 4)
    && [0, 1, 3].every((a) => past.shape[a] === present.shape[a] && added.shape[a] === present.shape[a])
    && past.shape[2]! + added.shape[2]! === present.shape[2] && added.dtype === present.dtype;
  return fits ? undefined : message.cacheShapes(who, past, added, present);
}

/**
 * Why the runtime cannot run a decode plan, or undefined when it can: a
 * single-socket plan whose every attention reads a cache the graph takes and
 * returns (a kv-cache tensor), and there is one.
 */
export function decodeRefusal(plan: Plan, nodes: ReadonlyMap<string, Node>): string | undefined {
  const tensors = new Map(plan.dataflow.tensors.map((t) => [t.name, t]));
  let caches = 0;
  for (const k of plan.dataflow.kernels) {
    const node = nodes.get(k.nodes[0] ?? "");
    if (!node) continue;
    if (isCacheAppendNode(node)) caches++;
    if (node.domain === "tierflow" && node.op === "Attention" && tensors.get(node.inputs[1]!)?.role !== "kv-cache") return message.decode;
  }
  if (caches === 0) return message.decode;
  return plan.parallel ? message.decodeNode : undefined;
}

/** Whether the runtime runs a plan: every prefill plan, and the decode plans decodeRefusal lets through. */
export const runsPlan = (plan: Plan, nodes: ReadonlyMap<string, Node>): boolean => plan.dataflow.phase === "prefill" || decodeRefusal(plan, nodes) === undefined;
