// Load time: weights and constants go from the model's files into DDR, then
// the plan's load-time transfers move the HBM-resident ones DDR -> HBM.
//
// One tensor at a time: a DDR-resident weight is read from its file straight
// into its DDR block; an HBM-resident one is read into a staging block of DDR
// above every DDR allocation, copied to HBM by its transfer, and the staging
// block dropped before the next weight is read. The JS heap therefore holds
// what the plan keeps resident plus at most one weight in flight, never a
// second copy of the model. A weight the plan keeps in HBM but moves with no
// transfer is not loaded at all, and the first kernel to read it is refused.
// A socket of a node-level plan loads only its stage's allocations, and of a
// sharded weight only its own part (`LoadScope.part`).

import type { Graph } from "../../ir/graph/graph.js";
import type { Allocation, Plan, Transfer } from "../../ir/placement/plan.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { decodeBytes } from "../../ir/tensor-bytes.js";
import { readWeightBytes } from "../reference/weights.js";
import { ResidencyError } from "./arena.js";
import { tensorToBytes } from "./bytes.js";
import type { DeviceMemory } from "./memory.js";
import { RESIDENT_ROLES } from "./memory.js";
import type { TraceRecorder } from "./trace.js";


/** What one socket of a node-level plan loads: its stage's allocations and load-time transfers, and its part of sharded weights. */
export interface LoadScope {
  readonly allocations: readonly Allocation[];
  readonly transfers: readonly Transfer[];
  /** Whether a constant is sharded: only this socket's part of it is loaded. */
  readonly sharded: (name: string) => boolean;
  /** A sharded constant's part for this socket, from the whole tensor's bytes in the plan's dtype. */
  readonly part: (name: string, whole: Uint8Array, dims: readonly number[]) => Uint8Array;
}

/** Fill `dest` with a weight's or constant's bytes in the plan's dtype (this socket's part of a sharded one). */
function fillFromModel(graph: Graph, memory: DeviceMemory, name: string, dest: Uint8Array, modelDir: string, scope?: LoadScope): void {
  const c = graph.constants.get(name);
  if (!c) throw new ResidencyError(`'${name}' is a ${memory.info(name).role} of the plan, but the model has no such constant`);
  const storage = memory.info(name).dtype;
  let bytes: Uint8Array;
  try {
    const dims = c.kind === "weight" ? c.dims : c.tensor.dims;
    const sharded = scope?.sharded(name) ?? false;
    if (c.kind === "weight" && c.dtype === storage && !sharded) {
      readWeightBytes(c, modelDir, dest);
      return;
    }
    const value = c.kind === "weight" ? decodeBytes(c.dtype, c.dims, readWeightBytes(c, modelDir)) : c.tensor;
    bytes = tensorToBytes(value, storage);
    if (sharded) bytes = scope!.part(name, bytes, dims);
  } catch (err) {
    if (err instanceof TierflowError) throw err.at({ node: name });
    throw err;
  }
  if (bytes.byteLength !== dest.byteLength) throw new ResidencyError(`'${name}' has ${bytes.byteLength} bytes in the model, the plan sizes it ${dest.byteLength}`);
  dest.set(bytes);
}

export function loadModelData(plan: Plan, graph: Graph, memory: DeviceMemory, modelDir: string, trace?: TraceRecorder, scope?: LoadScope): void {
  memory.section = -1;
  const isResident = (name: string) => RESIDENT_ROLES.has(memory.info(name).role);
  for (const a of scope?.allocations ?? plan.allocations) {
    if (a.tier !== "ddr" || !isResident(a.tensor)) continue;
    const start = trace?.now() ?? 0;
    const dest = memory.destination(a.tensor, `loading '${a.tensor}'`);
    fillFromModel(graph, memory, a.tensor, dest.data, modelDir, scope);
    dest.commit();
    trace?.load(a.tensor, "ddr", a.bytes, start);
  }
  (scope?.transfers ?? plan.transfers).forEach((t, i) => {
    if (t.beforeSection >= 0) return;
    const start = trace?.now() ?? 0;
    let staging;
    if (t.from === "ddr" && isResident(t.tensor) && !memory.arenas.ddr.find(t.tensor)) {
      staging = memory.stageInDdr(t.tensor, memory.info(t.tensor).bytes);
      fillFromModel(graph, memory, t.tensor, staging.data, modelDir, scope);
      staging.written = true;
      trace?.load(t.tensor, "ddr", staging.bytes, start);
    }
    const moved = trace?.now() ?? 0;
    memory.transfer(t, `transfer ${i} (${t.from} -> ${t.to})`);
    trace?.transfer(t, i, moved);
    if (staging) memory.arenas.ddr.release(staging);
  });
}
