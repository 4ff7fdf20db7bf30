// Output storage for kernels, recycled while the reference backend runs.
//
// Why: every fresh typed array of a few MB costs its page faults (measured
// about 2.7 ns an element here, more than a float32 Mul's arithmetic) and feeds
// the garbage collector. The interpreter frees each intermediate at its last
// use, so it can hand that storage to a later node instead: it installs a
// BufferPool around a run, kernels ask for their output through
// `allocateOutput` / `allocateOverwritten`, and the interpreter gives a buffer
// back once no live value refers to it (targets/reference/interpreter.ts keeps
// that count, views included).
//
// Outside a run (constant folding, the plan executor, tests) no pool is
// installed and these are plain `makeTensor`. A pool only ever recycles
// buffers it created itself, so graph inputs, literals and weights can never
// be handed out again. Buffers are keyed by exact byte length: the same
// shapes recur from layer to layer and run to run, and an exact size keeps a
// recycled tensor's data a whole buffer, as a fresh one is.
//
// Known weakness: free buffers of a size that never recurs stay in the pool
// until it is dropped (`BufferPool.drain`, or the pool becoming garbage).

import type { DType } from "../../../ir/dtype.js";
import { dtypeBytes, isSubByte } from "../../../ir/dtype.js";
import type { Tensor, TensorData } from "../../../ir/tensor.js";
import { allocating, checkElementLimit, elementCount, makeTensor } from "../../../ir/tensor.js";

type StorageOf = new (buffer: ArrayBuffer, byteOffset: number, length: number) => TensorData;

const STORAGE: Partial<Record<DType, StorageOf>> = {
  f32: Float32Array, f16: Float32Array, bf16: Float32Array, f64: Float64Array,
  i8: Int8Array, i16: Int16Array, i32: Int32Array, i64: BigInt64Array, i4: Int8Array,
  u8: Uint8Array, bool: Uint8Array, u16: Uint16Array, u32: Uint32Array, u64: BigUint64Array, u4: Uint8Array,
};

/** Bytes of one element as stored (f16 and bf16 are held widened in float32, int4 and uint4 unpacked in a byte). */
const storedBytes = (dtype: DType) => (dtype === "f16" || dtype === "bf16" ? 4 : isSubByte(dtype) ? 1 : dtypeBytes(dtype));

/**
 * Storage for the reference backend's intermediate tensors, recycled once no live value
 * refers to it; buffers are matched by exact byte length. Pass one as `RunOptions.buffers`
 * to keep its buffers from run to run; free buffers stay until {@link BufferPool.drain}.
 *
 * @example
 * ```ts
 * import { BufferPool, loadModel, run } from "tierflow";
 *
 * const { module } = await loadModel("examples/models/llama-tiny.torchscript.onnx");
 * const buffers = new BufferPool();
 * const ids = { dtype: "i64", dims: [1, 4], data: BigInt64Array.from([1n, 5n, 9n, 2n]) } as const;
 * for (let i = 0; i < 3; i++) run(module, { input_ids: ids }, { modelDir: "examples/models", buffers });
 * console.log(buffers.reused, buffers.allocated);
 * ```
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly created = new WeakSet<ArrayBuffer>();
  /** Buffers handed out again rather than created (tests and benchmarks watch it). */
  reused = 0;
  /** Buffers created. */
  allocated = 0;
  /** Bytes held by free buffers. */
  freeBytes = 0;

  /** A buffer of exactly `bytes` bytes: a free one when there is one. Its contents are whatever it held. */
  take(bytes: number): ArrayBuffer {
    const list = this.free.get(bytes);
    const buf = list?.pop();
    if (buf) {
      this.reused++;
      this.freeBytes -= bytes;
      return buf;
    }
    const fresh = allocating(bytes, () => new ArrayBuffer(bytes));
    this.created.add(fresh);
    this.allocated++;
    return fresh;
  }

  /** Whether `buf` came from this pool (only those are ever given back). */
  owns(buf: ArrayBufferLike): buf is ArrayBuffer {
    return this.created.has(buf as ArrayBuffer);
  }

  /** Return a buffer nothing refers to any more. The caller guarantees that; buffers not from this pool are ignored. */
  give(buf: ArrayBufferLike): void {
    if (!this.owns(buf)) return;
    let list = this.free.get(buf.byteLength);
    if (!list) this.free.set(buf.byteLength, (list = []));
    list.push(buf);
    this.freeBytes += buf.byteLength;
  }

  /** Drop every free buffer (memory goes back once the collector runs). */
  drain(): void {
    this.free.clear();
    this.freeBytes = 0;
  }
}

let active: BufferPool | null = null;

/** Run `body` with `pool` serving kernel outputs; the previous pool (usually none) is restored after. */
export function withBufferPool<T>(pool: BufferPool, body: () => T): T {
  const previous = active;
  active = pool;
  try {
    return body();
  } finally {
    active = previous;
  }
}

function pooled(dtype: DType, dims: readonly number[]): Tensor | undefined {
  const Storage = STORAGE[dtype];
  if (!active || !Storage) return undefined;
  const count = elementCount(dims);
  if (count === 0) return undefined;
  checkElementLimit(count);
  return makeTensor(dtype, dims, new Storage(active.take(count * storedBytes(dtype)), 0, count));
}

/**
 * A kernel's output whose every element the kernel will write: from the installed pool its
 * contents are stale. Use `allocateOutput` when the kernel relies on zeros.
 */
export function allocateOverwritten(dtype: DType, dims: readonly number[]): Tensor {
  return pooled(dtype, dims) ?? makeTensor(dtype, dims);
}

/** A zero-filled output, as `makeTensor` gives, from the installed pool when there is one. */
export function allocateOutput(dtype: DType, dims: readonly number[]): Tensor {
  const t = pooled(dtype, dims);
  if (!t) return makeTensor(dtype, dims);
  new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).fill(0);
  return t;
}
