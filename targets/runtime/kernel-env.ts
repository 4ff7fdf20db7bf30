// What every kernel runner shares: memory, the graph's dtypes and literals,
// operands read through the residency checks, results' destinations, and the
// whole-tensor path for ops that do not split into row tiles.

import type { TensorType } from "../../ir/graph/graph.js";
import type { DType } from "../../ir/dtype.js";
import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import type { Tensor } from "../../ir/tensor.js";
import { bytesToTensor, tensorToBytes } from "./bytes.js";
import type { DeviceMemory } from "./memory.js";
import { RESIDENT_ROLES } from "./memory.js";
import type { OpNode, Operand, Result, TiledStep } from "./operands.js";
import { invoke } from "./operands.js";
import { StageBuffer } from "./tiles.js";
import { kernelLabel } from "../../ir/placement/legality.js";
import { wholeItems } from "../../ir/dataflow/stream-steps.js";
import { streamOperand } from "./tiled.js";

export interface KernelEnv {
  readonly memory: DeviceMemory;
  readonly opset: number;
  readonly graphTypes: ReadonlyMap<string, TensorType>;
  /** Literal constants of the graph (host memory; small tensors the importer kept in the IR). */
  readonly literals: ReadonlyMap<string, Tensor>;
  /** Tokens the graph's KV caches hold before this run (a generation session's); the past input's length when absent (cache.ts). */
  readonly cacheTokens?: number;
  /** A socket of a node-level plan: the operands it computes with where they differ from its memory's (socket-program.ts). */
  readonly adjustOperands?: (k: DfKernel, inputs: readonly (Operand | undefined)[]) => (Operand | undefined)[];
}

/** "kernel k12 (MatMul) in section 3 (s3)", for messages. */
export function describeKernel(k: DfKernel, memory: DeviceMemory): string {
  return kernelLabel(k, memory.label(memory.section));
}

/** The dtype kernels compute a value in: the graph's, else the plan's (intermediates only the dataflow level has). */
export function computeDType(env: KernelEnv, name: string, fallback?: DType): DType {
  return env.graphTypes.get(name)?.dtype ?? fallback ?? env.memory.info(name).dtype;
}

export function readOperand(env: KernelEnv, name: string, who: string, dtype?: DType): Operand {
  const t = env.memory.info(name);
  return { name, shape: t.shape, storage: t.dtype, dtype: computeDType(env, name, dtype), bytes: env.memory.read(name, who) };
}

export function resultOf(env: KernelEnv, name: string, who: string, dtype?: DType): Result {
  const t = env.memory.info(name);
  return { name, shape: t.shape, storage: t.dtype, dtype: computeDType(env, name, dtype), dest: env.memory.destination(name, who) };
}

export function tiledStep(env: KernelEnv, k: DfKernel, who: string, node: OpNode, inputs: readonly (Operand | undefined)[], output: Result, opset = env.opset): TiledStep {
  return { who, node, inputs, output, tiling: k.tiling, stage: new StageBuffer(env.memory.stageBuffer(k.name), who), opset };
}


/**
 * Run a node whole-tensor: its activations and results are staged at once in
 * the kernel's stage buffer, which the plan sized for them (weights and
 * constants are read from their tier, as a row gather reads its table).
 * `outputs` follows node.outputs (undefined for an omitted output).
 */
export function runWhole(env: KernelEnv, k: DfKernel, who: string, node: OpNode, inputs: readonly (Operand | undefined)[],
  outputs: readonly (Result | undefined)[]): void {
  const streamsFromTier = (o: Operand) => RESIDENT_ROLES.has(env.memory.info(env.memory.rootOf(o.name)).role);
  const present = inputs.filter((o): o is Operand => o?.bytes !== undefined);
  const results = outputs.filter((r): r is Result => r !== undefined);
  const items = wholeItems(inputs.map((o) => (o ? { ...streamOperand(o), resident: streamsFromTier(o) } : undefined)), results.map((r) => streamOperand(r)));
  const slots = new StageBuffer(env.memory.stageBuffer(k.name), who, true).reserve(items);
  const staged = [...new Map(present.filter((o) => !streamsFromTier(o)).map((o) => [o.name, o])).values()];
  const tensors = new Map<string, Tensor>();
  staged.forEach((o, i) => {
    slots[i]!.set(o.bytes!);
    tensors.set(o.name, bytesToTensor(slots[i]!, o.storage, o.dtype, o.shape));
  });
  for (const o of present) if (!tensors.has(o.name)) tensors.set(o.name, bytesToTensor(o.bytes!, o.storage, o.dtype, o.shape));
  const args = inputs.map((o) => (o ? tensors.get(o.name) ?? o.value : undefined));
  const values = invoke(node, args, env.opset, outputs.map((r) => r?.dtype ?? "f32"));
  let slot = staged.length;
  outputs.forEach((r, i) => {
    if (!r) return;
    const v = values[i];
    const bytes = v ? tensorToBytes(v, r.storage) : undefined;
    if (!bytes || bytes.byteLength !== r.dest.data.byteLength) {
      throw new Error(`${who}: kernel gave ${bytes?.byteLength ?? 0} bytes for '${r.name}', the plan sizes it ${r.dest.data.byteLength}`);
    }
    const s = slots[slot++]!;
    s.set(bytes);
    r.dest.data.set(s);
    r.dest.commit();
  });
}
