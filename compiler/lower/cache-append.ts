// Lowering of tierflow.CacheAppend, a KV cache the graph takes and returns
// (mark-kv-cache finds it). The present output is the cache: one kv-cache
// tensor of every token the step leaves in it, placed in its tier for the
// whole run; the past input names the tokens it held before the step and has
// no storage of its own (it is the front of the present). The kernel reads
// only the new tokens' rows and writes them into the cache after the ones it
// holds: a prefill fills an empty cache, a decode step appends one token.

import type { Node } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";
import type { LowerContext } from "./tiles.js";
import { tileKernel } from "./tiles.js";

export function lowerCacheAppend(node: Node, ctx: LowerContext): void {
  const [pastName, addedName] = node.inputs as [string, string];
  const past = ctx.tensor(pastName), added = ctx.tensor(addedName), present = ctx.tensor(node.outputs[0]!);
  if (present.role !== "kv-cache" || past.role !== "kv-cache") fail(`CacheAppend must take a cache input and give a cache output of the graph ('${pastName}' -> '${present.name}')`);
  ctx.kernels.push({
    name: ctx.nextKernelName(), kind: "cache", nodes: [node.name], ops: ["tierflow.CacheAppend"],
    inputs: [past.name, added.name], outputs: [present.name], dtype: present.dtype, flops: 0,
    reads: { [added.name]: added.bytes },
    ...tileKernel("append", [past, added], [present], ctx.options.kernelBufferBudget !== undefined ? { budget: ctx.options.kernelBufferBudget } : {}),
  });
}
