// Runs the WebAssembly GEMM kernel (gemm-wasm.ts), and the float32 SIMD
// kernels (simd-wasm.ts) that split into independent rows, over a table of
// chunks, on the calling thread and a small pool of worker threads that share
// both modules' memories.
//
// Kernels are synchronous (`kernel(inputs, ctx) => Tensor[]`), so the caller
// does not await the workers: it publishes a job in a SharedArrayBuffer,
// wakes them with Atomics.notify, claims chunks itself like any worker, then
// blocks in Atomics.wait (allowed on Node's main thread) until every claimed
// chunk is done. A worker that has not started yet simply claims nothing, so
// workers start lazily, in the background, and never delay a result; they are
// unref'd and do not keep the process alive.
//
// Claiming: NEXT holds (generation << 20 | next index). A claim is a
// compare-exchange on it, so a worker still looking at a finished job cannot
// take a chunk of the next one; between jobs NEXT is locked (index 0xfffff)
// while the table is rewritten.

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { KERNEL_ARGS, KERNEL_NAMES, WORKSPACE_BYTES, gemmModuleBytes } from "./gemm-wasm.js";
import { SIMD_MEMORY_BYTES, simdKernelNames, simdModuleBytes } from "./simd-wasm.js";
import type { KernelKind } from "./gemm-wasm.js";

const GEN = 0, NEXT = 1, COUNT = 2, DONE = 3, FAILED = 4, KIND = 5, ACTIVE = 6, BY_WORKERS = 7, HEADER = 8;
const INDEX_MASK = 0xfffff, GEN_MASK = 0x7ff;
/** Most chunks one job may have. */
export const MAX_CHUNKS = 4096;
/** Most threads used, the calling one included. */
const MAX_THREADS = 8;

/**
 * The worker's whole program; plain JavaScript so it runs the same under tsx, vitest and the built package.
 * Written when the first worker starts: it lists the SIMD module's functions, which take tens of
 * milliseconds to generate, and a command that runs no kernel should not pay for them.
 */
const workerSource = (): string => `
const { workerData } = require("node:worker_threads");
const { module, memory, simd, control, id } = workerData;
const exports = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
const simdExports = simd ? new WebAssembly.Instance(simd.module, { env: { mem: simd.memory } }).exports : {};
const kernels = [...${JSON.stringify(KERNEL_NAMES)}.map((name) => exports[name]), ...${JSON.stringify(simdKernelNames())}.map((name) => simdExports[name])];
const ctl = new Int32Array(control);
let gen = Atomics.load(ctl, ${GEN});
for (;;) {
  if (id < Atomics.load(ctl, ${ACTIVE})) {
    for (;;) {
      const v = Atomics.load(ctl, ${NEXT}), i = v & ${INDEX_MASK}, count = Atomics.load(ctl, ${COUNT});
      if (((v >>> 20) & ${GEN_MASK}) !== (gen & ${GEN_MASK}) || i >= count) break;
      if (Atomics.compareExchange(ctl, ${NEXT}, v, v + 1) !== v) continue;
      const p = ${HEADER} + i * ${KERNEL_ARGS};
      try {
        kernels[ctl[${KIND}]](ctl[p], ctl[p + 1], ctl[p + 2], ctl[p + 3], ctl[p + 4], ctl[p + 5], ctl[p + 6], ctl[p + 7], ctl[p + 8], ctl[p + 9], ctl[p + 10]);
      } catch {
        Atomics.store(ctl, ${FAILED}, 1);
      }
      Atomics.add(ctl, ${BY_WORKERS}, 1);
      if (Atomics.add(ctl, ${DONE}, 1) + 1 === count) Atomics.notify(ctl, ${DONE});
    }
  }
  Atomics.wait(ctl, ${GEN}, gen);
  gen = Atomics.load(ctl, ${GEN});
}
`;

type KernelFn = (...args: number[]) => void;

/** The part of the WebAssembly JavaScript API used here (lib ES2023 without the DOM does not declare it). */
interface WasmApi {
  Memory: new (limits: { initial: number; maximum: number; shared: true }) => { readonly buffer: SharedArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export interface SimdSpace {
  readonly memory: { readonly buffer: SharedArrayBuffer };
  readonly module: object;
  /** The module's functions by name. */
  readonly fn: (name: string) => KernelFn;
}

export interface Workspace {
  readonly memory: { readonly buffer: SharedArrayBuffer };
  readonly module: object;
  /** By kind: KERNEL_NAMES[kind], then the SIMD module's functions (simdKind). */
  readonly kernels: readonly KernelFn[];
  /** The float32 SIMD module and its memory; null where SIMD is not available. */
  readonly simd: SimdSpace | null;
  /** demote(src, dst, count): float64 to float32 within the memory, on the calling thread. */
  readonly demote: KernelFn;
  readonly control: Int32Array;
  readonly workers: Worker[];
}

let space: Workspace | null | undefined; // null: WebAssembly or shared memory is not available here
let threads = defaultThreads();

function defaultThreads(): number {
  const env = Number(process.env["TIERFLOW_THREADS"]);
  const wanted = Number.isInteger(env) && env > 0 ? env : availableParallelism();
  return Math.max(1, Math.min(wanted, MAX_THREADS));
}

/** Threads the GEMM may use, the calling one included (default: available cores, at most 8; TIERFLOW_THREADS overrides). */
export function gemmThreads(): number {
  return threads;
}

/** Set the thread count (1 = the calling thread only); returns the previous one. For tests and benchmarks. */
export function setGemmThreads(n: number): number {
  const previous = threads;
  threads = Math.max(1, Math.min(Math.floor(n), MAX_THREADS));
  return previous;
}

/** The shared memory, compiled module and control block, created on first use; null where they cannot be. */
export function workspace(): Workspace | null {
  if (space !== undefined) return space;
  try {
    space = createWorkspace();
  } catch {
    space = null; // e.g. a limit on address space: the callers keep to JavaScript
  }
  return space;
}

function createWorkspace(): Workspace {
  const pages = WORKSPACE_BYTES / 65536;
  const memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
  const module = new wasm.Module(gemmModuleBytes());
  const exports = new wasm.Instance(module, { env: { mem: memory } }).exports;
  const control = new Int32Array(new SharedArrayBuffer((HEADER + MAX_CHUNKS * KERNEL_ARGS) * 4));
  control[NEXT] = INDEX_MASK; // generation 0, locked
  const simd = createSimdSpace();
  const kernels = [...KERNEL_NAMES.map((name) => exports[name] as KernelFn), ...simdKernelNames().map((name) => simd?.fn(name) ?? missing)];
  return { memory, module, kernels, simd, demote: exports["demote"] as KernelFn, control, workers: [] };
}

const missing: KernelFn = () => {
  throw new Error("the SIMD module is not available");
};

function createSimdSpace(): SimdSpace | null {
  try {
    const pages = SIMD_MEMORY_BYTES / 65536;
    const memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
    const module = new wasm.Module(simdModuleBytes());
    const exports = new wasm.Instance(module, { env: { mem: memory } }).exports;
    return { memory, module, fn: (name) => exports[name] as KernelFn };
  } catch {
    return null; // no WebAssembly SIMD here: its callers keep to JavaScript
  }
}

/** The kind (index in the pool's kernel table) of the SIMD module's function `name`. */
export function simdKind(name: string): number {
  const i = simdKernelNames().indexOf(name);
  if (i < 0) throw new Error(`no SIMD kernel '${name}'`);
  return KERNEL_NAMES.length + i;
}

/** Start workers up to threads - 1; they join the job in progress once running. */
function ensureWorkers(ws: Workspace): void {
  while (ws.workers.length < threads - 1) {
    let worker: Worker;
    try {
      worker = new Worker(workerSource(), {
        eval: true, execArgv: [],
        workerData: {
          module: ws.module, memory: ws.memory, control: ws.control.buffer, id: ws.workers.length,
          simd: ws.simd && { module: ws.simd.module, memory: ws.simd.memory },
        },
      });
    } catch {
      break; // no more threads to be had: those running (or the caller alone) do the work
    }
    worker.on("error", () => {}); // a worker that fails to start claims nothing; the caller computes its share
    worker.unref();
    ws.workers.push(worker);
  }
  Atomics.store(ws.control, ACTIVE, threads - 1);
}

/** How many chunks worker threads (not the calling thread) have run so far: shows that they take part. */
export function gemmWorkerChunks(): number {
  return space ? Atomics.load(space.control, BY_WORKERS) : 0;
}

/** Where a job's chunks go: entry i is control[CHUNK_TABLE_BASE + i * KERNEL_ARGS ..], the kernel's arguments. */
export const CHUNK_TABLE_BASE = HEADER;

/**
 * Run chunks [0, count) of the table with kernel KERNEL_NAMES[kind]; in parallel when
 * `parallel` and more than one thread is allowed. Returns when every chunk is done.
 */
export function runChunks(ws: Workspace, count: number, kind: KernelKind | number, parallel: boolean): void {
  const ctl = ws.control, kernel = ws.kernels[kind]!;
  if (count > MAX_CHUNKS) throw new Error(`a job of ${count} chunks exceeds ${MAX_CHUNKS}`);
  const runOne = (i: number) => {
    const p = HEADER + i * KERNEL_ARGS;
    kernel(ctl[p]!, ctl[p + 1]!, ctl[p + 2]!, ctl[p + 3]!, ctl[p + 4]!, ctl[p + 5]!, ctl[p + 6]!, ctl[p + 7]!, ctl[p + 8]!, ctl[p + 9]!, ctl[p + 10]!);
  };
  if (!parallel || threads < 2 || count < 2) {
    for (let i = 0; i < count; i++) runOne(i);
    return;
  }
  ensureWorkers(ws);
  const gen = (Atomics.load(ctl, GEN) + 1) & GEN_MASK;
  ctl[COUNT] = count;
  ctl[DONE] = 0;
  ctl[FAILED] = 0;
  ctl[KIND] = kind;
  Atomics.store(ctl, NEXT, gen << 20);
  Atomics.store(ctl, GEN, gen);
  Atomics.notify(ctl, GEN);
  for (;;) {
    const v = Atomics.load(ctl, NEXT), i = v & INDEX_MASK;
    if (i >= count) break;
    if (Atomics.compareExchange(ctl, NEXT, v, v + 1) !== v) continue;
    try {
      runOne(i);
    } catch {
      ctl[FAILED] = 1; // finish the job's bookkeeping first, so the workers are idle when this throws
    }
    Atomics.add(ctl, DONE, 1);
  }
  for (let done = Atomics.load(ctl, DONE); done < count; done = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, done);
  Atomics.store(ctl, NEXT, ((gen + 1) & GEN_MASK) << 20 | INDEX_MASK); // lock until the next job's table is written
  if (Atomics.load(ctl, FAILED)) throw new Error("a WebAssembly kernel failed on a chunk");
}
