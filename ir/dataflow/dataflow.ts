// The dataflow level: kernels joined by streams of tiles. Every dim is bound
// (a dataflow module is compiled for one phase, batch and sequence length), so
// each kernel knows its FLOPs, the bytes it reads and writes, its tiling and
// the on-chip buffer it needs to stream.

import type { DType } from "../dtype.js";

/** How a kernel streams through its stage buffer; streaming.ts says which ops stream how, stream-steps.ts what each step stages. */
export type StreamKind = "none" | "columns" | "rows" | "matmul" | "gather" | "map" | "attention" | "images" | "append" | "whole" | "link";

export const STREAM_KINDS: Readonly<Record<StreamKind, true>> = {
  none: true, columns: true, rows: true, matmul: true, gather: true, map: true, attention: true, images: true, append: true, whole: true, link: true,
};

/** What a tensor is to the plan: its role decides where placement may put it. */
export type TensorRole = "input" | "output" | "weight" | "constant" | "activation" | "kv-cache";

export interface DfTensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly role: TensorRole;
}

/** How a kernel streams: tiles of `tileShape` along its outermost axis, `tiles` of them. */
export interface Tiling {
  readonly tileShape: readonly number[];
  readonly tiles: number;
  /**
   * Blocks each tile's output leaves the kernel in: a matrix product streaming
   * its right operand in column blocks emits one block of output columns per
   * weight block, and its consumers start on the first (1 for other kernels).
   */
  readonly blocks: number;
}

export interface DfKernel {
  readonly name: string;
  /** Key into the dataflow op table (ir/dataflow/kinds.ts). */
  readonly kind: string;
  /** Graph-level nodes this kernel implements, and their op types. */
  readonly nodes: readonly string[];
  readonly ops: readonly string[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly dtype: DType;
  readonly flops: number;
  /** How it streams through its stage buffer (streaming.ts): what the buffer is sized for and the runtime does. */
  readonly streaming: StreamKind;
  readonly tiling: Tiling;
  /** On-chip bytes needed to stream (double-buffered tiles and weight blocks). */
  readonly bufferBytes: number;
  /** Bytes read from each input over the whole kernel (weights may be re-read per tile). */
  readonly reads: Readonly<Record<string, number>>;
}

/** A tensor produced by one kernel and consumed by another, tile by tile. */
export interface DfStream {
  readonly tensor: string;
  readonly from: string;
  readonly to: string;
  readonly tileBytes: number;
  readonly tiles: number;
}

export type Phase = "prefill" | "decode";

/**
 * A model at the dataflow level, lowered for one phase with its dims bound: tensors of known
 * size, kernels in execution order and the streams between them (`CompileResult.dataflow`,
 * `Plan.dataflow`).
 */
export interface DataflowModule {
  readonly name: string;
  /** Model file this was compiled from. */
  readonly source: string;
  readonly phase: Phase;
  /** Values of the graph's symbolic dims, plus `context` for decode. */
  readonly bindings: Readonly<Record<string, number>>;
  /** dtype the plan computes and stores floating-point data in. */
  readonly dtype: DType;
  /** Names of the tensors the model takes, in order. */
  readonly inputs: readonly string[];
  /** Names of the tensors the model returns, in order. */
  readonly outputs: readonly string[];
  readonly tensors: readonly DfTensor[];
  /** In a valid execution order. */
  readonly kernels: readonly DfKernel[];
  readonly streams: readonly DfStream[];
}

const tensorMaps = new WeakMap<DataflowModule, ReadonlyMap<string, DfTensor>>();

/** The module's tensors by name, built once per module (modules are immutable; the verifiers, planners and cost model each ask). */
export function tensorMap(m: DataflowModule): ReadonlyMap<string, DfTensor> {
  let map = tensorMaps.get(m);
  if (!map) tensorMaps.set(m, (map = indexBy(m.tensors, (t) => t.name)));
  return map;
}

/** `items` by `key`, the last of equal keys winning as in `new Map(pairs)`, without an array of pairs to build it from. */
export function indexBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) map.set(key(item), item);
  return map;
}

/** Total bytes of the module's tensors that have one of `roles`. */
export function roleBytes(m: DataflowModule, roles: readonly string[]): number {
  return m.tensors.filter((t) => roles.includes(t.role)).reduce((s, t) => s + t.bytes, 0);
}

/** Total bytes of the module's weights and constants. */
export const weightBytes = (m: DataflowModule): number => roleBytes(m, ["weight", "constant"]);

/**
 * The KV caches a with-past graph takes and returns, from its cache kernels
 * (tierflow.CacheAppend, inputs [past, new], output [present]): the present is
 * the cache's buffer; the past names its tokens before the step and has no
 * storage of its own.
 */
export interface CacheIO {
  readonly past: string;
  readonly present: string;
  readonly kernel: string;
}

export function cachesOf(m: Pick<DataflowModule, "kernels">): CacheIO[] {
  return m.kernels.filter((k) => k.kind === "cache").map((k) => ({ past: k.inputs[0]!, present: k.outputs[0]!, kernel: k.name }));
}

/** A view's output is its input's bytes under another shape: map it to the tensor that owns the bytes. */
export function viewAliases(m: DataflowModule): Map<string, string> {
  const alias = new Map<string, string>();
  for (const k of m.kernels) if (k.kind === "view" && k.inputs[0]) for (const o of k.outputs) alias.set(o, k.inputs[0]);
  const root = (t: string): string => (alias.has(t) ? root(alias.get(t)!) : t);
  return new Map([...alias.keys()].map((t) => [t, root(t)]));
}
