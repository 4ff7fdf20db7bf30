// The reference backend: runs a graph-level module node by node on concrete
// tensors with the kernel table's kernels, the same ones constant folding uses, so
// the two cannot disagree. It is the numerical oracle for later lowering stages,
// so it favours clear failures over speed: inputs are checked against the
// graph's types, and every kernel error names its node.

import type { Graph, Module, Node, TensorType } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { KernelContext, OpKernel } from "./kernel-table.js";
import { kernelFor } from "./kernel-table.js";
import { opOf } from "../../ir/graph/ops.js";
import type { DType } from "../../ir/dtype.js";
import { TierflowError, fail, withLocation } from "../../ir/diagnostics.js";
import type { Dim } from "../../ir/symbolic.js";
import { evaluateDim, isSymbolName } from "../../ir/symbolic.js";
import type { Tensor } from "../../ir/tensor.js";
import { allocate } from "../../ir/tensor.js";
import { BufferPool, withBufferPool } from "./kernels/buffers.js";
import { workspace } from "./kernels/gemm-pool.js";
import type { WeightCache } from "./weights.js";
import { loadWeight } from "./weights.js";
import { fuseSteps } from "./fusions.js";
import type { Step } from "./fusions.js";
import type { Check } from "../../ir/arguments.js";
import { BOOLEAN, FUNCTION, MODULE, STRING, checkArg, checkOptions, checkTensors, isObject } from "../../ir/arguments.js";

/** Options of {@link run}: where weights are read from, what storage is reused, what is timed. */
export interface RunOptions {
  /** Folder that weight references are relative to: the model file's folder (default: the current folder). */
  readonly modelDir?: string;
  /** Time every node (`RunResult.profile`). */
  readonly profile?: boolean;
  /** Told when a node's output is stored and when a value is released after its last use (tests watch memory through it). */
  readonly trace?: (event: "store" | "free", value: string) => void;
  /**
   * Where kernels' outputs come from: a pool that recycles an intermediate's storage once no
   * live value refers to it (default: a new pool for this run); pass one to keep its buffers
   * from run to run, or false for fresh storage everywhere.
   */
  readonly buffers?: BufferPool | false;
  /** Keep decoded weights here between runs (default: read each weight from its file at first use in every run). */
  readonly weights?: WeightCache;
  /** Run patterns of nodes as one fused step where one applies (fusions.ts; default true): same values, fewer passes. */
  readonly fuse?: boolean;
  /**
   * Reuse the values that depend only on the inputs' dims (shape arithmetic, position ids, a
   * causal mask) from an earlier run of this module with the same input dims (default true).
   */
  readonly reuseShapeValues?: boolean;
}

/** One step's time in a profiled {@link run} (`RunResult.profile`). */
export interface NodeTiming {
  /** The node's op; for a fused step that does more than its node (fusions.ts), the pattern's name (Attention). */
  readonly op: string;
  /** The node (for a fused step, the last node of its pattern). */
  readonly node: string;
  /** Wall-clock time of the step, in milliseconds. */
  readonly ms: number;
  /** For a fused step, every node it ran, in graph order. */
  readonly covers?: readonly string[];
}

/** What {@link run} returns: the graph's outputs by name and, when profiled, each step's time. */
export interface RunResult {
  /** The main graph's outputs, by value name. */
  readonly outputs: Record<string, Tensor>;
  /** With `RunOptions.profile`, one timing per step run, in order. */
  readonly profile?: NodeTiming[];
}

function formatType(dtype: DType, shape: readonly Dim[] | null): string {
  return `${dtype}[${shape ? shape.join(", ") : "*"}]`;
}

/**
 * Check the caller's tensors against the graph inputs' types. Symbols bind to
 * the first value seen and must agree everywhere after; dims that are
 * expressions ("seq+1") are checked once all their symbols are bound.
 */
export function checkInputs(graph: Graph, inputs: Readonly<Record<string, Tensor>>): Map<string, number> {
  for (const name of Object.keys(inputs)) {
    if (!graph.inputs.includes(name)) {
      fail(`unknown input '${name}' (the model's inputs are: ${graph.inputs.join(", ") || "none"})`);
    }
  }
  const bindings = new Map<string, number>();
  const boundBy = new Map<string, string>();
  const deferred: [string, TensorType, Tensor][] = [];
  for (const name of graph.inputs) {
    const want = graph.types.get(name);
    const got = Object.hasOwn(inputs, name) ? inputs[name] : undefined;
    const expected = want ? formatType(want.dtype, want.shape) : "a tensor";
    if (!got) fail(`missing input '${name}' (expected ${expected})`);
    const mismatch = (why = "") => fail(`input '${name}': expected ${expected}, got ${formatType(got.dtype, got.dims)}${why}`);
    if (got.data.length !== got.dims.reduce((p, d) => p * d, 1)) {
      fail(`input '${name}': ${got.data.length} elements do not fill shape [${got.dims.join(", ")}]`);
    }
    if (!(got.data instanceof allocate(got.dtype, 0).constructor)) fail(`input '${name}': storage does not match dtype ${got.dtype}`);
    if (!want) continue;
    if (got.dtype !== want.dtype) mismatch();
    if (!want.shape) continue;
    if (want.shape.length !== got.dims.length) mismatch();
    want.shape.forEach((d, i) => {
      const actual = got.dims[i]!;
      if (typeof d === "number") {
        if (d !== actual) mismatch();
      } else if (isSymbolName(d)) {
        const bound = bindings.get(d);
        if (bound === undefined) {
          bindings.set(d, actual);
          boundBy.set(d, name);
        } else if (bound !== actual) mismatch(` (${d} is ${bound} from input '${boundBy.get(d)}')`);
      } else deferred.push([name, want, got]);
    });
  }
  for (const [name, want, got] of deferred) {
    want.shape!.forEach((d, i) => {
      const value = evaluateDim(d, bindings);
      if (value !== undefined && value !== got.dims[i]) {
        fail(`input '${name}': expected ${formatType(want.dtype, want.shape)}, got ${formatType(got.dtype, got.dims)} (${d} is ${value})`);
      }
    });
  }
  return bindings;
}

/** For each value a node reads, the index of the last node that reads it. */
export function lastUses(graph: Graph): Map<string, number> {
  return lastReads(graph.nodes);
}

/** For each value read, the index of the last reader (a node, or a step, which may read other values than its node). */
function lastReads(readers: readonly { readonly inputs: readonly string[] }[]): Map<string, number> {
  const last = new Map<string, number>();
  readers.forEach((r, i) => {
    for (const input of r.inputs) if (input !== "") last.set(input, i);
  });
  return last;
}

function kernelOf(node: Node): OpKernel {
  return withLocation({ node: node.name }, () => {
    opOf(node);
    const kernel = kernelFor(node);
    if (!kernel) fail(`no kernel for op '${node.op}'${node.domain ? ` in domain '${node.domain}'` : ""} in the reference backend`);
    return kernel;
  });
}

/** A kernel bug (not bad input) keeps its stack but says which node hit it. */
function atNode(err: unknown, node: Pick<Node, "name" | "op">): unknown {
  if (err instanceof TierflowError) return err.at({ node: node.name });
  if (err instanceof Error) {
    const wrapped = new Error(`node '${node.name}' (${node.op}): ${err.message}`, { cause: err });
    wrapped.stack = err.stack ?? wrapped.stack ?? "";
    return wrapped;
  }
  return err;
}

/**
 * Counts the live values that refer to each buffer, views included (Reshape, Identity,
 * Squeeze, Split may return their input's storage), and gives a buffer back to the pool
 * once the last of them is released. Graph inputs and literals are pinned: the caller and
 * the module own them, so they are never handed out again, even when they came from the pool.
 */
class BufferOwners {
  private readonly holders = new Map<ArrayBufferLike, number>();
  private readonly pinned = new Set<ArrayBufferLike>();

  constructor(private readonly pool: BufferPool | undefined) {}

  pin(t: Tensor): void {
    this.pinned.add(t.data.buffer);
  }

  hold(t: Tensor): void {
    const buf = t.data.buffer;
    this.holders.set(buf, (this.holders.get(buf) ?? 0) + 1);
  }

  drop(t: Tensor): void {
    const buf = t.data.buffer, n = (this.holders.get(buf) ?? 0) - 1;
    if (n > 0) {
      this.holders.set(buf, n);
      return;
    }
    this.holders.delete(buf);
    if (this.pool && !this.pinned.has(buf)) this.pool.give(buf);
  }
}

const RUN_OPTIONS = {
  modelDir: STRING, profile: BOOLEAN, trace: FUNCTION, fuse: BOOLEAN, reuseShapeValues: BOOLEAN,
  buffers: { what: "a BufferPool or false", ok: (v: unknown) => v === false || v instanceof BufferPool },
  weights: { what: "a WeightCache", ok: (v: unknown) => isObject(v) && typeof v.load === "function" },
} satisfies Record<keyof RunOptions, Check>;

/**
 * Run a graph-level module's main graph on concrete tensors with the CPU reference backend
 * (the same kernels as constant folding) and return its outputs by name. An unknown or
 * missing input, a tensor whose dtype or dims do not match the graph's input, a weights file
 * that is missing or a kernel's failure throws a TierflowError naming the input or node.
 *
 * @example
 * ```ts
 * import { BufferPool, WeightCache, loadModel, run } from "tierflow";
 *
 * const { module } = await loadModel("examples/models/llama-tiny.torchscript.onnx");
 * const ids = { dtype: "i64", dims: [1, 4], data: BigInt64Array.from([1n, 5n, 9n, 2n]) } as const;
 * const options = { modelDir: "examples/models", buffers: new BufferPool(), weights: new WeightCache() };
 * const { outputs } = run(module, { input_ids: ids }, options);
 * console.log(outputs["logits"]!.dims); // [1, 4, 512]
 * ```
 */
export function run(module: Module, inputs: Readonly<Record<string, Tensor>>, options: RunOptions = {}): RunResult {
  checkArg("run", "module", module, MODULE);
  checkTensors("run", "inputs", inputs);
  checkOptions("run", "options", options, RUN_OPTIONS);
  const pool = options.buffers === false ? undefined : options.buffers ?? new BufferPool();
  return pool ? withBufferPool(pool, () => runNodes(module, inputs, options, pool)) : runNodes(module, inputs, options, undefined);
}

interface Planned {
  readonly steps: readonly Step[];
  /** For each value read, the index of the step that reads it last. */
  readonly last: ReadonlyMap<string, number>;
  /** Per step, the values it reads last (released after it). */
  readonly frees: readonly (readonly string[])[];
  /** Per step: whether its outputs depend only on the inputs' dims (shapeDerived) and none is a graph output. */
  readonly byShape: readonly boolean[];
  /**
   * Such steps' outputs by the input dims they were computed for, most recent last (at most
   * SHAPE_MEMO_KEYS), or TOO_LARGE for dims whose values would not fit SHAPE_MEMO_BYTES.
   */
  readonly memo: Map<string, ReadonlyMap<string, Tensor> | typeof TOO_LARGE>;
}

/** Input-dim combinations whose shape-derived values a module keeps, and the bytes one may hold. */
const SHAPE_MEMO_KEYS = 4, SHAPE_MEMO_BYTES = 32 * 1024 * 1024;
const TOO_LARGE = "too large";

/**
 * The values computed from the inputs' dims and constants only: Shape and Size read nothing
 * of their input but its dims, and every op's kernel is a function of its inputs, so a node
 * whose inputs are such values (at least one not a constant) or constants gives the same
 * output for the same input dims.
 */
function shapeDerived(graph: Graph): Set<string> {
  const derived = new Set<string>();
  const known = (v: string) => v === "" || graph.constants.has(v) || derived.has(v);
  for (const node of graph.nodes) {
    const dimsOnly = !node.domain && (node.op === "Shape" || node.op === "Size");
    if (dimsOnly || (node.inputs.some((v) => derived.has(v)) && node.inputs.every(known))) {
      for (const o of node.outputs) if (o !== "") derived.add(o);
    }
  }
  return derived;
}

/**
 * Per graph, opset and fusing or not, the steps to run and their last reads. Graphs are
 * immutable and matching the fusions costs milliseconds a run (3 ms for llama-tiny), so
 * they are worked out once.
 */
const planned = new WeakMap<Graph, Map<string, Planned>>();

function plannedSteps(graph: Graph, opset: number, fuse: boolean): Planned {
  let byKey = planned.get(graph);
  const key = `${opset}|${fuse}`, known = byKey?.get(key);
  if (known) return known;
  const kernels = graph.nodes.map(kernelOf);
  const contextOf = (node: Node): KernelContext => {
    const declared = node.outputs.map((o) => graph.types.get(o)?.dtype);
    return declared.every((d) => d !== undefined)
      ? { attrs: node.attrs, opset, outputCount: node.outputs.length, outputDTypes: declared as DType[] }
      : { attrs: node.attrs, opset, outputCount: node.outputs.length };
  };
  const nodeSteps = graph.nodes.map((node, i) => ({ node, inputs: node.inputs, kernel: kernels[i]!, ctx: contextOf(node) }));
  const steps = fuse ? fuseSteps(graph, opset, nodeSteps) : nodeSteps;
  const derived = shapeDerived(graph), outputs = new Set(graph.outputs);
  const byShape = steps.map(({ node }) => node.outputs.some((o) => o !== "") && node.outputs.every((o) => o === "" || (derived.has(o) && !outputs.has(o))));
  const last = lastReads(steps);
  const frees = steps.map((step, i) => [...new Set(step.inputs)].filter((name) => name !== "" && last.get(name) === i));
  const result = { steps, last, frees, byShape, memo: new Map() };
  if (!byKey) planned.set(graph, (byKey = new Map()));
  byKey.set(key, result);
  return result;
}

/** Keep a run's shape-derived values (or TOO_LARGE) for its input dims, the oldest dims forgotten first. */
function remember(memo: Planned["memo"], key: string, values: ReadonlyMap<string, Tensor> | typeof TOO_LARGE): void {
  memo.set(key, values);
  for (const oldest of memo.keys()) {
    if (memo.size <= SHAPE_MEMO_KEYS) break;
    memo.delete(oldest);
  }
}

function runNodes(module: Module, inputs: Readonly<Record<string, Tensor>>, options: RunOptions, pool: BufferPool | undefined): RunResult {
  const graph = mainGraph(module);
  const opset = module.opsets[""] ?? 0;
  // Every op must have a kernel before any work (or weight read) starts.
  const plan = plannedSteps(graph, opset, options.fuse !== false);
  const { steps, last, frees, byShape } = plan;
  checkInputs(graph, inputs);
  // Shape-derived values from a run with these input dims, or a record of them for the next.
  const reuse = options.reuseShapeValues !== false;
  const dimsKey = graph.inputs.map((name) => inputs[name]!.dims.join("x")).join(";");
  const known = reuse ? plan.memo.get(dimsKey) : undefined;
  const remembered = known === TOO_LARGE ? undefined : known;
  let recording = reuse && !known ? new Map<string, Tensor>() : undefined, recorded = 0;

  const values = new Map<string, Tensor>();
  const owners = new BufferOwners(pool);
  const store = (name: string, t: Tensor) => {
    values.set(name, t);
    owners.hold(t);
  };
  for (const name of graph.inputs) {
    owners.pin(inputs[name]!);
    store(name, inputs[name]!);
  }
  for (const c of graph.constants.values()) if (c.kind === "literal") owners.pin(c.tensor);
  const keep = new Set(graph.outputs);
  const release = (name: string) => {
    const t = values.get(name);
    if (keep.has(name) || !t) return;
    values.delete(name);
    owners.drop(t);
    options.trace?.("free", name);
  };
  for (const name of graph.inputs) if (!last.has(name)) release(name); // inputs no node reads
  const modelDir = options.modelDir ?? ".";
  const valueOf = (name: string, node: Pick<Node, "name" | "op">): Tensor => {
    const v = values.get(name);
    if (v) return v;
    const c = graph.constants.get(name);
    if (!c) throw atNode(new Error(`value '${name}' is not available (freed too early or never computed)`), node);
    // Weights are read at first use and released like intermediates after their last one.
    const t = c.kind === "literal" ? c.tensor : withLocation({ node: node.name }, () => options.weights ? options.weights.load(c, modelDir) : loadWeight(c, modelDir));
    store(name, t);
    return t;
  };

  const profile: NodeTiming[] = [];
  // The WebAssembly kernels' modules and memories are made on first use (tens of ms): not a node's time.
  if (options.profile) workspace();
  const keepOutput = (out: string, t: Tensor) => {
    store(out, t);
    options.trace?.("store", out);
    if (!last.has(out)) release(out); // never read (an unused optional output)
  };
  steps.forEach(({ node, inputs: reads, kernel, ctx, label, covers }, index) => {
    const releaseReads = () => frees[index]!.forEach(release);
    if (remembered && byShape[index]) {
      for (const out of node.outputs) {
        if (out === "") continue;
        const t = remembered.get(out)!;
        owners.pin(t); // the memo keeps it: its storage never goes back to the pool
        keepOutput(out, t);
      }
      releaseReads();
      return;
    }
    const args = reads.map((name) => (name === "" ? undefined : valueOf(name, node)));
    const start = options.profile ? performance.now() : 0;
    let results: Tensor[];
    try {
      results = kernel(args, ctx);
    } catch (err) {
      throw atNode(err, node);
    }
    if (options.profile) profile.push({ op: label ?? node.op, node: node.name, ms: performance.now() - start, ...(covers ? { covers } : {}) });
    node.outputs.forEach((out, i) => {
      if (out === "") return;
      const t = results[i];
      if (!t) throw atNode(new Error(`kernel returned ${results.length} outputs, output '${out}' is missing`), node);
      const want = graph.types.get(out);
      if (want && (want.dtype !== t.dtype || (want.shape && want.shape.length !== t.dims.length))) {
        throw atNode(new Error(`kernel gave ${formatType(t.dtype, t.dims)} for '${out}', typed ${formatType(want.dtype, want.shape)}`), node);
      }
      if (recording && byShape[index]) {
        // Past the limit, stop: pinned values are storage the pool does not get back.
        recorded += t.data.byteLength;
        if (recorded > SHAPE_MEMO_BYTES) {
          recording = undefined;
          remember(plan.memo, dimsKey, TOO_LARGE);
        } else {
          owners.pin(t);
          recording.set(out, t);
        }
      }
      keepOutput(out, t);
    });
    releaseReads();
  });
  if (recording) remember(plan.memo, dimsKey, recording);

  const outputs = Object.create(null) as Record<string, Tensor>; // value names such as "__proto__" stay plain keys
  for (const name of graph.outputs) {
    const t = values.get(name) ?? (graph.constants.has(name) ? valueOf(name, { name, op: "graph output" }) : undefined);
    if (!t) fail(`graph output '${name}' was not computed`);
    outputs[name] = t;
  }
  return options.profile ? { outputs, profile } : { outputs };
}
