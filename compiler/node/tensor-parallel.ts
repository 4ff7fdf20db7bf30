// Tensor (and expert) parallelism at the dataflow level: the program one
// socket of a group runs. Weights, activations and KV caches that are split
// get their per-socket shapes; kernels their per-socket FLOPs, reads and tiles;
// collective kernels are inserted where a split or partial value must become
// whole again. Every socket of the group runs the same program on its own
// shard (SPMD); `shards` says which slice of each tensor a socket holds.
//
// Algorithm: one forward walk in program order carrying each tensor's state,
// replicated or split {axis, parts} (socket i holds part floor(i * parts / R)
// along axis), after Megatron-LM (Shoeybi et al., 2019) for the products
// (shard-roles.ts) and GSPMD-style propagation for the rest (Xu et al.,
// "GSPMD", 2021): views map the split axis by prefix products, transposes by
// their permutation, pointwise ops by broadcasting, attention keeps heads
// split, reductions over a split axis gather first. A row-parallel product's
// partial sums get an all-reduce; a split graph output an all-gather.
// Experts: with ep > 1 each socket holds experts/ep of every MoE layer; with
// tp = ep the group's tokens are replicated and an all-reduce combines, with
// tp = 1 tokens go to their experts' sockets and back all-to-all.
// Known weakness: a replicated input of a split pointwise op is read whole
// (each socket could read its slice); gathers chosen by the fallback are
// correct but not placed optimally.

import type { DataflowModule, DfKernel, DfTensor } from "../../ir/dataflow/dataflow.js";
import { KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import type { Attrs } from "../../ir/graph/graph.js";
import { attrInts } from "../../ir/graph/graph.js";
import { tileKernel, deriveStreams } from "../lower/to-dataflow.js";
import type { CollectiveKind, TensorShard } from "../../ir/placement/plan.js";
import { COLLECTIVE_OPS } from "./collectives.js";
import type { ParallelLayout } from "./layout.js";
import { groupSize } from "./layout.js";
import { matmulRoles } from "./shard-roles.js";
import { ownValue, recordOf } from "../../ir/name-record.js";

export interface Split {
  readonly axis: number;
  readonly parts: number;
}

export interface CollectiveRecord {
  readonly kernel: string;
  readonly kind: CollectiveKind;
  /** Bytes per socket the cost formula takes (collectives.ts). */
  readonly bytes: number;
  readonly sockets: number;
}

export interface ShardedModule {
  readonly module: DataflowModule;
  readonly shards: readonly TensorShard[];
  readonly collectives: readonly CollectiveRecord[];
}

const REDUCING_KINDS = new Set(["norm", "softmax", "gather", "pool"]);

function localShape(shape: readonly number[], s: Split | undefined): number[] {
  return shape.map((d, i) => (s && i === s.axis ? d / s.parts : d));
}

/** Map a split through a reshape: the output axis with the same prefix of elements. */
function splitThroughView(from: readonly number[], to: readonly number[], s: Split): Split | undefined {
  const prefix = (shape: readonly number[], axis: number) => shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const want = prefix(from, s.axis);
  for (let j = 0; j < to.length; j++) if (prefix(to, j) === want && to[j]! > 1 && to[j]! % s.parts === 0) return { axis: j, parts: s.parts };
  return undefined;
}

/**
 * The program one socket of a tensor/expert-parallel group runs. `budget`: the
 * most bytes one kernel's buffers may take (as lowering was given).
 */
export function shardForTensorParallel(m: DataflowModule, layout: ParallelLayout, attrsOf: (k: DfKernel) => Attrs | undefined, budget?: number): ShardedModule {
  const group = groupSize(layout);
  if (group === 1) return { module: m, shards: [], collectives: [] };
  const full = new Map(m.tensors.map((t) => [t.name, t]));
  const roles = matmulRoles(m, layout.tp, attrsOf);
  const readers = new Map<string, DfKernel[]>();
  for (const k of m.kernels) for (const i of new Set(k.inputs)) (readers.get(i) ?? readers.set(i, []).get(i)!).push(k);
  const state = new Map<string, Split>();
  const created = new Map<string, DfTensor>();
  const kernels: DfKernel[] = [];
  const collectives: CollectiveRecord[] = [];
  const gathered = new Map<string, string>();
  let counter = 0;

  const tensorOf = (name: string): DfTensor => created.get(name) ?? full.get(name)!;
  const local = (name: string): DfTensor => {
    const t = tensorOf(name), s = state.get(name);
    return s ? { ...t, shape: localShape(t.shape, s), bytes: t.bytes / s.parts } : t;
  };
  const addTensor = (t: DfTensor) => created.set(t.name, t);
  /** A collective kernel moving `input` to `output` (or each input to the output at its place). */
  const collective = (kind: CollectiveKind, input: string | readonly string[], output: string | readonly string[], bytes: number, sockets: number) => {
    const ins = typeof input === "string" ? [input] : [...input], outs = typeof output === "string" ? [output] : [...output];
    const i = ins.map(local), o = outs.map(local);
    kernels.push({
      // No graph node: a collective is not a node of the model.
      name: `c${counter++}`, kind: "collective", nodes: [], ops: [COLLECTIVE_OPS[kind]], inputs: ins, outputs: outs,
      dtype: i[0]!.dtype, flops: kind === "all-reduce" ? (o[0]!.bytes / Math.max(1, bytesPer(o[0]!))) * (sockets - 1) / sockets : 0,
      reads: Object.fromEntries(i.map((t) => [t.name, t.bytes])), ...tileKernel("link", i, o, { budget }),
    });
    collectives.push({ kernel: kernels.at(-1)!.name, kind, bytes, sockets });
  };
  /** The name to read `name` under when the reader needs it whole. */
  const whole = (name: string): string => {
    const s = state.get(name);
    if (!s) return name;
    const known = gathered.get(name);
    if (known) return known;
    const out = `${name}/gathered`;
    addTensor({ ...tensorOf(name), name: out });
    collective("all-gather", name, out, tensorOf(name).bytes, s.parts);
    gathered.set(name, out);
    return out;
  };

  for (const k of m.kernels) {
    const inputs = [...k.inputs];
    const outSplits: (Split | undefined)[] = k.outputs.map(() => undefined);
    const activation = (i: number) => ["activation", "input", "output"].includes(full.get(k.inputs[i]!)?.role ?? "");
    const gatherAll = () => inputs.forEach((n, i) => { if (activation(i)) inputs[i] = whole(n); });
    let flopsRatio: number | undefined;
    // A collective that makes the kernel's first output whole: the kernel writes `t/<suffix>`.
    let post: { kind: CollectiveKind; suffix: string; bytes: number; tokensOf?: number } | undefined;
    const role = roles.get(k.name);
    const inRank = (i: number) => full.get(k.inputs[i]!)!.shape.length;
    const outShape = full.get(k.outputs[0]!)?.shape ?? [];

    if (k.kind === "host") {
      // shape arithmetic stays replicated
    } else if (k.kind === "view") {
      const s = state.get(inputs[0]!);
      const mapped = s && splitThroughView(full.get(k.inputs[0]!)!.shape, outShape, s);
      if (s && !mapped) inputs[0] = whole(inputs[0]!);
      outSplits[0] = mapped;
    } else if (k.kind === "layout" && k.ops[0] === "Transpose") {
      const s = state.get(inputs[0]!);
      const rank = inRank(0);
      const perm = attrsOf(k) && attrInts(attrsOf(k)!, "perm") || [...Array(rank).keys()].reverse();
      outSplits[0] = s && { axis: perm.indexOf(s.axis), parts: s.parts };
    } else if (role?.role === "column") {
      inputs[0] = whole(inputs[0]!);
      state.set(role.weight, { axis: role.weightAxis, parts: role.parts });
      const bias = inputs[2] !== undefined ? full.get(inputs[2]) : undefined;
      // A bias other kernels read whole (a zero bias merged with a norm's) stays whole: each socket reads its columns.
      const splitsBias = (bias && readers.get(bias.name)?.every((r) => r.inputs[2] === bias.name && roles.get(r.name)?.role === "column" && (roles.get(r.name) as { parts: number }).parts === role.parts)) ?? false;
      if (bias && splitsBias && bias.shape.length >= 1 && bias.shape.at(-1) === outShape.at(-1)) state.set(bias.name, { axis: bias.shape.length - 1, parts: role.parts });
      outSplits[0] = { axis: outShape.length - 1, parts: role.parts };
      flopsRatio = 1 / role.parts;
    } else if (role?.role === "row" && state.get(inputs[0]!)?.axis === inRank(0) - 1 && state.get(inputs[0]!)?.parts === layout.tp) {
      state.set(role.weight, { axis: role.weightAxis, parts: layout.tp });
      flopsRatio = 1 / layout.tp;
      post = { kind: "all-reduce", suffix: "partial", bytes: tensorOf(k.outputs[0]!).bytes };
    } else if (k.ops[0] === "tierflow.MoEExperts" && layout.ep > 1) {
      for (const i of [0, 1, 2]) inputs[i] = whole(inputs[i]!);
      for (const i of [3, 4]) state.set(inputs[i]!, { axis: 0, parts: layout.ep });
      const routed = full.get(k.inputs[1]!)!.shape[1] ?? 1;
      if (layout.tp > 1) {
        flopsRatio = 1 / layout.ep;
        post = { kind: "all-reduce", suffix: "partial", bytes: tensorOf(k.outputs[0]!).bytes };
      } else {
        // Tokens travel to their experts' sockets and back: one all-to-all each way. The buffers
        // hold the group's tokens and their routing (all of them may pick this socket's experts, and
        // none is dropped); the link is costed for the routed tokens only.
        const x = inputs[0]!;
        const sent = [0, 1, 2].map((i) => groupTokens(tensorOf(inputs[i]!), `${inputs[i]!}/dispatched`, layout.ep));
        sent.forEach(addTensor);
        collective("all-to-all", inputs.slice(0, 3), sent.map((t) => t.name), tensorOf(x).bytes * routed, layout.ep);
        sent.forEach((t, i) => { inputs[i] = t.name; });
        flopsRatio = 1;
        post = { kind: "all-to-all", suffix: "expert", bytes: tensorOf(k.outputs[0]!).bytes * routed, tokensOf: layout.ep };
      }
    } else if (k.kind === "cache") {
      // A graph's own KV cache splits by KV heads as the keys or values appended to it do; else it stays whole.
      const s = state.get(inputs[1]!);
      if (s?.axis === 1 && full.get(k.outputs[0]!)!.shape[1]! % s.parts === 0) {
        state.set(k.inputs[0]!, s);
        outSplits[0] = s;
      } else gatherAll();
    } else if (k.kind === "attention" && k.ops[0] === "tierflow.Attention") {
      const [q, kk, v] = [0, 1, 2].map((i) => state.get(inputs[i]!));
      if (q?.axis === 1 && kk?.axis === 1 && v?.axis === 1 && kk.parts === v.parts) {
        outSplits[0] = q;
        // The layer's key and value caches ([batch, kv_heads, tokens, head_dim]) split by KV heads too.
        for (const n of k.inputs) if (full.get(n)?.role === "kv-cache") state.set(n, { axis: 1, parts: kk.parts });
      } else gatherAll();
    } else {
      // Pointwise, reductions, products of two activations: broadcast the splits to the output.
      const rank = outShape.length;
      const splits = k.inputs.map((n, i) => {
        const s = activation(i) ? state.get(inputs[i]!) : undefined;
        return s && { axis: s.axis + rank - inRank(i), parts: s.parts };
      });
      const cache = k.inputs.findIndex((n) => full.get(n)?.role === "kv-cache");
      const distinct = [...new Set(splits.filter((s) => s).map((s) => `${s!.axis}/${s!.parts}`))];
      const [axis, parts] = (distinct[0] ?? "").split("/").map(Number) as [number, number];
      const reducesSplit = REDUCING_KINDS.has(k.kind) && axis === rank - 1;
      const contractsSplit = k.kind === "matmul" && axis >= rank - 2;
      if (distinct.length === 1 && !reducesSplit && !contractsSplit && axis >= 0) {
        k.outputs.forEach((o, j) => {
          const r = full.get(o)!.shape.length, a = axis - (rank - r);
          if (a >= 0 && full.get(o)!.shape[a]! % parts === 0 && full.get(o)!.role !== "kv-cache") outSplits[j] = { axis: a, parts };
        });
        if (cache >= 0 && !state.has(k.inputs[cache]!) && axis === 1) state.set(k.inputs[cache]!, { axis: 1, parts });
      } else if (distinct.length > 0) gatherAll();
    }

    const outputs = [...k.outputs];
    outSplits.forEach((s, j) => { if (s) state.set(outputs[j]!, s); });
    // Partial sums (or tokens still at their experts): the kernel writes `t/partial`, a collective makes `t`.
    if (post) {
      const t = outputs[0]!;
      outputs[0] = `${t}/${post.suffix}`;
      addTensor(post.tokensOf ? groupTokens(tensorOf(t), outputs[0], post.tokensOf) : { ...tensorOf(t), name: outputs[0] });
    }
    const at = kernels.push(localKernel(k, inputs, outputs, flopsRatio)) - 1;
    if (post) collective(post.kind, outputs[0]!, k.outputs[0]!, post.bytes, group);
    // A split graph output is gathered whole under its own name; a decode step's KV cache stays
    // with the sockets that hold its heads (a prefill's is gathered once, for the steps after).
    outputs.forEach((o, j) => {
      if (!state.has(o) || !m.outputs.includes(o)) return;
      if (m.phase === "decode" && full.get(o)?.role === "kv-cache") return;
      const shard = `${o}/shard`;
      addTensor({ ...tensorOf(o), name: shard });
      state.set(shard, state.get(o)!);
      state.delete(o);
      kernels[at] = renameOutput(kernels[at]!, j, shard);
      collective("all-gather", shard, o, tensorOf(o).bytes, state.get(shard)!.parts);
    });
  }

  function localKernel(k: DfKernel, inputs: readonly string[], outputs: readonly string[], flopsRatio: number | undefined): DfKernel {
    const reads = new Map<string, number>();
    k.inputs.forEach((orig, i) => {
      const read = ownValue(k.reads, orig);
      if (read === undefined) return;
      const now = inputs[i]!;
      reads.set(now, (reads.get(now) ?? 0) + read * (local(now).bytes / Math.max(1, tensorOf(orig).bytes)));
    });
    const outRatio = local(outputs[0] ?? "").bytes / Math.max(1, tensorOf(k.outputs[0] ?? "").bytes);
    const touched = [...inputs, ...outputs].some((n) => state.has(n)) || outputs.some((o, j) => o !== k.outputs[j]);
    const ins = inputs.map(local), outs = outputs.map(local);
    const kind = KERNEL_KINDS[k.kind]!;
    // The socket's shapes stream the way the whole kernel does; an attention's own KV caches are written, not
    // staged, but a graph's cache is the attention's keys and values, and an append tiles its new rows.
    const staged = (ts: DfTensor[], operands: boolean) =>
      ts.filter((t, i) => t.role !== "kv-cache" || k.streaming === "append" || (operands && k.streaming === "attention" && i < 3));
    const tiles = !touched || !kind.device ? { streaming: k.streaming, tiling: k.tiling, bufferBytes: k.bufferBytes }
      : tileKernel(k.streaming, staged(ins, true), staged(outs, false), { budget, op: k.ops[0] ?? "" });
    return { ...k, inputs, outputs, reads: recordOf(reads), flops: k.flops * (flopsRatio ?? (Number.isFinite(outRatio) ? outRatio : 1)), ...tiles };
  }

  // Per-socket tensors: every tensor the program touches, with its local shape.
  const used = new Set<string>([...m.inputs, ...m.outputs, ...kernels.flatMap((k) => [...k.inputs, ...k.outputs])]);
  const tensors = [...m.tensors.map((t) => t.name), ...created.keys()].filter((n) => used.has(n)).map(local);
  const shards = [...state].filter(([n]) => used.has(n)).map(([tensor, s]) => ({ tensor, ...s }))
    .sort((a, b) => a.tensor.localeCompare(b.tensor));
  const module: DataflowModule = { ...m, tensors, kernels, streams: deriveStreams(kernels, new Map(tensors.map((t) => [t.name, t]))) };
  return { module, shards, collectives };
}

/** A tensor of tokens along axis 0 as `members` sockets' worth of them (expert parallelism's exchange buffers). */
function groupTokens(t: DfTensor, name: string, members: number): DfTensor {
  return { ...t, name, shape: [t.shape[0]! * members, ...t.shape.slice(1)], bytes: t.bytes * members };
}

function bytesPer(t: DfTensor): number {
  const n = t.shape.reduce((p, d) => p * d, 1);
  return n > 0 ? t.bytes / n : 1;
}

function renameOutput(k: DfKernel, j: number, name: string): DfKernel {
  return { ...k, outputs: k.outputs.map((o, i) => (i === j ? name : o)) };
}

/** Attributes of the graph node a kernel was lowered from. */
export function attrsLookup(nodes: readonly { readonly name: string; readonly attrs: Attrs }[]): (k: DfKernel) => Attrs | undefined {
  const byName = new Map(nodes.map((n) => [n.name, n.attrs]));
  return (k) => (k.nodes.length === 1 ? byName.get(k.nodes[0]!) : undefined);
}
