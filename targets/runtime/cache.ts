// A KV cache the graph takes and returns (tierflow.CacheAppend): the new
// tokens' keys or values, tile by tile through the stage buffer, written into
// the cache's allocation after the tokens it holds. The cache is one block
// [batch, kv_heads, capacity, head_dim] in its tier for the whole run; a
// prefill fills it from the front, a decode step appends its token to what the
// steps before left there (the runtime filled it before the first section).
// How many tokens it holds comes from the run (KernelEnv.cacheTokens): the
// past input's length unless a generation session says otherwise.

import type { Node } from "../../ir/graph/graph.js";
import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import { streamSteps } from "../../ir/dataflow/stream-steps.js";
import { ResidencyError } from "./arena.js";
import { cacheAppendProblem, message } from "../../ir/placement/legality.js";
import type { KernelEnv } from "./kernel-env.js";
import { readOperand } from "./kernel-env.js";
import { checkTiling, streamOperand } from "./tiled.js";
import { elemBytes } from "./operands.js";
import { StageBuffer } from "./tiles.js";

export function runCacheAppendKernel(k: DfKernel, node: Node, env: KernelEnv, who: string): number {
  const problem = cacheAppendProblem(k, node, who, (name) => env.memory.info(name));
  if (problem) throw new ResidencyError(problem);
  const [pastName, addedName] = k.inputs as [string, string];
  const present = env.memory.info(k.outputs[0]!);
  if (!env.memory.allocationOf(present.name)) throw new ResidencyError(message.cacheTier(who, present.name));
  const added = readOperand(env, addedName, who);
  const [, , capacity, width] = present.shape as [number, number, number, number];
  const tokens = added.shape[2]!;
  const held = env.cacheTokens ?? env.memory.info(pastName).shape[2]!;
  if (held + tokens > capacity) throw new ResidencyError(message.cacheFull(who, present.name, held, tokens, capacity));
  const dest = env.memory.destination(present.name, who);
  const step = { who, node, inputs: [undefined, added], output: { name: present.name, shape: present.shape, storage: present.dtype, dtype: present.dtype, dest },
    tiling: k.tiling, stage: new StageBuffer(env.memory.stageBuffer(k.name), who), opset: env.opset };
  checkTiling(step, "append", [{ ...step.output, shape: added.shape }]);
  const rowBytes = width * elemBytes(added);
  let steps = 0;
  for (const s of streamSteps("append", { inputs: [undefined, streamOperand(added)], outputs: [streamOperand(step.output)] }, k.tiling.tileShape, k.tiling.tiles)) {
    const [slot] = step.stage.reserve(s.items) as [Uint8Array];
    slot.set(added.bytes!.subarray(s.r0 * rowBytes, (s.r0 + s.n) * rowBytes));
    // Row r of the new tokens is token r % tokens of (batch, head) r / tokens: it goes after that head's held tokens.
    for (let r = s.r0; r < s.r0 + s.n; r++) {
      const bh = Math.floor(r / tokens), at = bh * capacity + held + (r % tokens);
      dest.data.set(slot.subarray((r - s.r0) * rowBytes, (r - s.r0 + 1) * rowBytes), at * rowBytes);
    }
    steps++;
  }
  dest.commit();
  return steps;
}
