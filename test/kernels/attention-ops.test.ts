// The attention-family ops deployed language models carry (ir/graph/ops/attention-ops.ts):
// ONNX's Attention and RotaryEmbedding, onnxruntime's RotaryEmbedding, MultiHeadAttention
// and GroupQueryAttention. Each case is a one-node model run by onnxruntime-node and by
// tierflow twice: imported as is (the op's direct kernel) and through the default
// pipeline (expand-ops writes tierflow.Attention / Rotary and the reshapes, caches and
// masks around them), on the same seeded inputs. Then the expanded graph fuses to one
// tierflow.Attention per attention op, and what neither form computes is refused by name.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { loadModel } from "../../compiler/load.js";
import { runPipeline } from "../../compiler/passes/pipeline.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Module } from "../../ir/graph/graph.js";
import type { DType } from "../../ir/dtype.js";
import { TierflowError } from "../../ir/diagnostics.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { seededRandom } from "../../compiler/seeded-random.js";
import { run } from "../../targets/reference/index.js";
import { floatTensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-attention-ops-"));
const MS = "com.microsoft";
const ONNX_TYPE: Record<string, number> = { f32: 1, i64: 7, i32: 6, bool: 9 };
const ORT_TYPE = { f32: "float32", i64: "int64", i32: "int32", bool: "bool" } as const;

interface Input {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dtype?: "f32" | "i64" | "i32" | "bool";
  readonly values?: readonly number[];
  /** The declared shape when it has symbols (the feed has `dims`). */
  readonly declared?: readonly (number | string)[];
  /** An initializer rather than a graph input. */
  readonly weight?: boolean;
}

interface Case {
  readonly name: string;
  readonly op: string;
  readonly domain?: string;
  readonly opset?: number;
  readonly inputs: readonly (Input | null)[];
  readonly outputs: readonly string[];
  readonly attrs?: Record<string, unknown>;
  /** tierflow composites the expansion fuses to (default: one Attention, or one Rotary for the rotary ops). */
  readonly fused?: Record<string, number>;
}

const f32 = (name: string, ...dims: number[]): Input => ({ name, dims });
const ints = (name: string, dtype: "i64" | "i32", dims: number[], values: number[]): Input => ({ name, dims, dtype, values });
const bools = (name: string, dims: number[], values: number[]): Input => ({ name, dims, dtype: "bool", values });
const pattern = (n: number, keep: (i: number) => boolean) => Array.from({ length: n }, (_, i) => (keep(i) ? 1 : 0));

// Q heads 4, KV heads 2, head size 8 unless said otherwise.
const ATTENTION: Case[] = [
  { name: "4-D cross attention, value head size 6", op: "Attention", inputs: [f32("q", 2, 4, 3, 8), f32("k", 2, 4, 5, 8), f32("v", 2, 4, 5, 6)], outputs: ["y"] },
  { name: "4-D grouped heads, causal", op: "Attention", inputs: [f32("q", 2, 4, 3, 8), f32("k", 2, 2, 3, 8), f32("v", 2, 2, 3, 8)], outputs: ["y"], attrs: { is_causal: 1 } },
  { name: "3-D grouped heads, causal, past of 2", op: "Attention", inputs: [f32("q", 2, 3, 32), f32("k", 2, 3, 16), f32("v", 2, 3, 16), null, f32("pk", 2, 2, 2, 8), f32("pv", 2, 2, 2, 8)], outputs: ["y", "present_key", "present_value"], attrs: { q_num_heads: 4, kv_num_heads: 2, is_causal: 1 } },
  { name: "3-D causal, past of length 0", op: "Attention", inputs: [f32("q", 2, 3, 32), f32("k", 2, 3, 16), f32("v", 2, 3, 16), null, f32("pk", 2, 2, 0, 8), f32("pv", 2, 2, 0, 8)], outputs: ["y", "present_key", "present_value"], attrs: { q_num_heads: 4, kv_num_heads: 2, is_causal: 1 } },
  { name: "4-D decode step: one query after a past of 4", op: "Attention", inputs: [f32("q", 2, 4, 1, 8), f32("k", 2, 2, 1, 8), f32("v", 2, 2, 1, 8), null, f32("pk", 2, 2, 4, 8), f32("pv", 2, 2, 4, 8)], outputs: ["y", "present_key", "present_value"], attrs: { is_causal: 1 } },
  { name: "causal, one query bringing 3 keys after a past (onnxruntime sees every key)", op: "Attention", inputs: [f32("q", 1, 2, 1, 8), f32("k", 1, 2, 3, 8), f32("v", 1, 2, 3, 8), null, f32("pk", 1, 2, 2, 8), f32("pv", 1, 2, 2, 8)], outputs: ["y", "present_key", "present_value"], attrs: { is_causal: 1 } },
  { name: "bool mask with a fully masked row", op: "Attention", inputs: [f32("q", 2, 4, 3, 8), f32("k", 2, 2, 4, 8), f32("v", 2, 2, 4, 8), bools("m", [2, 1, 3, 4], [1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0])], outputs: ["y"] },
  { name: "float mask [seq, keys] with causal and scale", op: "Attention", inputs: [f32("q", 2, 4, 3, 8), f32("k", 2, 2, 3, 8), f32("v", 2, 2, 3, 8), f32("m", 3, 3)], outputs: ["y"], attrs: { is_causal: 1, scale: 0.5 } },
  { name: "float mask [heads, seq, keys] with softcap", op: "Attention", inputs: [f32("q", 2, 4, 3, 8), f32("k", 2, 2, 3, 8), f32("v", 2, 2, 3, 8), f32("m", 4, 3, 3)], outputs: ["y"], attrs: { softcap: 2.5 }, fused: { Attention: 0 } },
  { name: "3-D bool mask, causal and past", op: "Attention", inputs: [f32("q", 2, 3, 32), f32("k", 2, 3, 16), f32("v", 2, 3, 16), bools("m", [2, 1, 3, 5], pattern(30, (i) => i % 7 !== 3)), f32("pk", 2, 2, 2, 8), f32("pv", 2, 2, 2, 8)], outputs: ["y", "present_key", "present_value"], attrs: { q_num_heads: 4, kv_num_heads: 2, is_causal: 1 } },
  { name: "opset 24", op: "Attention", opset: 24, inputs: [f32("q", 2, 4, 3, 8), f32("k", 2, 2, 5, 8), f32("v", 2, 2, 5, 8)], outputs: ["y"] },
  {
    name: "symbolic batch, sequence and past", op: "Attention",
    inputs: [
      { name: "q", dims: [2, 3, 32], declared: ["batch", "seq", 32] }, { name: "k", dims: [2, 3, 16], declared: ["batch", "seq", 16] }, { name: "v", dims: [2, 3, 16], declared: ["batch", "seq", 16] }, null,
      { name: "pk", dims: [2, 2, 4, 8], declared: ["batch", 2, "past", 8] }, { name: "pv", dims: [2, 2, 4, 8], declared: ["batch", 2, "past", 8] },
    ],
    outputs: ["y", "present_key", "present_value"], attrs: { q_num_heads: 4, kv_num_heads: 2, is_causal: 1 },
  },
];

const POSITIONS = ints("pos", "i64", [2, 3], [0, 1, 2, 5, 6, 7]);
const ROTARY: Case[] = [
  { name: "4-D with position ids", op: "RotaryEmbedding", inputs: [f32("x", 2, 2, 3, 8), f32("cos", 10, 4), f32("sin", 10, 4), POSITIONS], outputs: ["y"] },
  { name: "3-D, interleaved, partial", op: "RotaryEmbedding", inputs: [f32("x", 2, 3, 16), f32("cos", 10, 2), f32("sin", 10, 2), POSITIONS], outputs: ["y"], attrs: { num_heads: 2, interleaved: 1, rotary_embedding_dim: 4 } },
  { name: "3-D, caches per token without position ids", op: "RotaryEmbedding", inputs: [f32("x", 2, 3, 16), f32("cos", 2, 3, 4), f32("sin", 2, 3, 4)], outputs: ["y"], attrs: { num_heads: 2 } },
  { name: "4-D partial, caches as weights", op: "RotaryEmbedding", inputs: [f32("x", 2, 2, 3, 8), { name: "cos", dims: [10, 2], weight: true }, { name: "sin", dims: [10, 2], weight: true }, POSITIONS], outputs: ["y"], attrs: { rotary_embedding_dim: 4 } },
  { name: "4-D interleaved", op: "RotaryEmbedding", inputs: [f32("x", 2, 2, 3, 8), f32("cos", 10, 4), f32("sin", 10, 4), POSITIONS], outputs: ["y"], attrs: { interleaved: 1 } },
  { name: "contrib: 3-D with position ids", op: "RotaryEmbedding", domain: MS, inputs: [f32("x", 2, 3, 16), POSITIONS, f32("cos", 10, 4), f32("sin", 10, 4)], outputs: ["y"] },
  { name: "contrib: one start position, interleaved", op: "RotaryEmbedding", domain: MS, inputs: [f32("x", 2, 3, 16), ints("pos", "i64", [1], [3]), f32("cos", 10, 4), f32("sin", 10, 4)], outputs: ["y"], attrs: { interleaved: 1 } },
  { name: "contrib: 4-D partial", op: "RotaryEmbedding", domain: MS, inputs: [f32("x", 2, 2, 3, 8), POSITIONS, f32("cos", 10, 2), f32("sin", 10, 2)], outputs: ["y"], attrs: { num_heads: 2, rotary_embedding_dim: 4 } },
  { name: "contrib: 3-D partial, interleaved", op: "RotaryEmbedding", domain: MS, inputs: [f32("x", 2, 3, 16), POSITIONS, f32("cos", 10, 2), f32("sin", 10, 2)], outputs: ["y"], attrs: { num_heads: 2, rotary_embedding_dim: 4, interleaved: 1 } },
  { name: "contrib: 4-D, one start position", op: "RotaryEmbedding", domain: MS, inputs: [f32("x", 2, 2, 3, 8), ints("pos", "i64", [1], [4]), f32("cos", 10, 4), f32("sin", 10, 4)], outputs: ["y"] },
];

// Heads 2, head size 8, 3 queries.
const QKV = [f32("q", 2, 3, 16), f32("k", 2, 4, 16), f32("v", 2, 4, 16)];
const SELF = [f32("q", 2, 3, 16), f32("k", 2, 3, 16), f32("v", 2, 3, 16)];
const MHA: Case[] = [
  { name: "cross attention", op: "MultiHeadAttention", domain: MS, inputs: QKV, outputs: ["y"], attrs: { num_heads: 2 } },
  { name: "with bias", op: "MultiHeadAttention", domain: MS, inputs: [...QKV, f32("b", 48)], outputs: ["y"], attrs: { num_heads: 2 } },
  { name: "key lengths [batch]", op: "MultiHeadAttention", domain: MS, inputs: [...QKV, null, ints("m", "i32", [2], [2, 3])], outputs: ["y"], attrs: { num_heads: 2 } },
  { name: "key padding [batch, keys]", op: "MultiHeadAttention", domain: MS, inputs: [...QKV, null, ints("m", "i32", [2, 4], [1, 0, 1, 1, 1, 1, 0, 1])], outputs: ["y"], attrs: { num_heads: 2 } },
  { name: "key padding [batch, seq, keys]", op: "MultiHeadAttention", domain: MS, inputs: [...QKV, null, ints("m", "i32", [2, 3, 4], pattern(24, (i) => i % 5 !== 1))], outputs: ["y"], attrs: { num_heads: 2, mask_filter_value: -1000.5 } },
  { name: "attention_bias [1, heads, seq, keys]", op: "MultiHeadAttention", domain: MS, inputs: [...QKV, null, null, f32("ab", 1, 2, 3, 4)], outputs: ["y"], attrs: { num_heads: 2 } },
  { name: "attention_bias per batch with key padding", op: "MultiHeadAttention", domain: MS, inputs: [...QKV, null, ints("m", "i32", [2, 4], [1, 0, 1, 1, 1, 1, 0, 1]), f32("ab", 2, 1, 3, 4)], outputs: ["y"], attrs: { num_heads: 2 } },
  { name: "unidirectional", op: "MultiHeadAttention", domain: MS, inputs: SELF, outputs: ["y"], attrs: { num_heads: 2, unidirectional: 1 } },
  { name: "unidirectional with padding over the mask filter", op: "MultiHeadAttention", domain: MS, inputs: [...SELF, null, ints("m", "i32", [2, 3], [1, 1, 1, 0, 1, 1])], outputs: ["y"], attrs: { num_heads: 2, unidirectional: 1, mask_filter_value: -20000.5 } },
  { name: "unidirectional, past of 2 and padding", op: "MultiHeadAttention", domain: MS, inputs: [...SELF, null, ints("m", "i32", [2, 5], [0, 1, 1, 1, 1, 1, 1, 1, 1, 0]), null, f32("pk", 2, 2, 2, 8), f32("pv", 2, 2, 2, 8)], outputs: ["y", "present_key", "present_value"], attrs: { num_heads: 2, unidirectional: 1 } },
  { name: "decode step with bias, padding and scale", op: "MultiHeadAttention", domain: MS, inputs: [f32("q", 2, 1, 16), f32("k", 2, 1, 16), f32("v", 2, 1, 16), f32("b", 48), ints("m", "i32", [2, 3], [1, 1, 1, 0, 1, 1]), null, f32("pk", 2, 2, 2, 8), f32("pv", 2, 2, 2, 8)], outputs: ["y", "present_key", "present_value"], attrs: { num_heads: 2, unidirectional: 1, scale: 0.3 } },
  { name: "past of length 0", op: "MultiHeadAttention", domain: MS, inputs: [...SELF, null, null, null, f32("pk", 2, 2, 0, 8), f32("pv", 2, 2, 0, 8)], outputs: ["y", "present_key", "present_value"], attrs: { num_heads: 2, unidirectional: 1 } },
  { name: "key and value per head", op: "MultiHeadAttention", domain: MS, inputs: [f32("q", 2, 3, 16), f32("k", 2, 2, 4, 8), f32("v", 2, 2, 4, 8)], outputs: ["y"], attrs: { num_heads: 2 } },
  { name: "value head size 4", op: "MultiHeadAttention", domain: MS, inputs: [f32("q", 2, 3, 16), f32("k", 2, 4, 16), f32("v", 2, 4, 8)], outputs: ["y"], attrs: { num_heads: 2 } },
];

// num_heads 4, kv_num_heads 2, head size 16.
const gqa = (batch: number, seq: number, past: number | undefined, lengths: number[], total: number, size = 16, packed = false): (Input | null)[] => [
  f32("q", batch, seq, (packed ? 8 : 4) * size), packed ? null : f32("k", batch, seq, 2 * size), packed ? null : f32("v", batch, seq, 2 * size),
  past === undefined ? null : f32("pk", batch, 2, past, size), past === undefined ? null : f32("pv", batch, 2, past, size),
  ints("seqlens_k", "i32", [batch], lengths.map((n) => n - 1)), ints("total", "i32", [], [total]),
];
const CACHES = [f32("cos", 16, 8), f32("sin", 16, 8)];
const HEADS = { num_heads: 4, kv_num_heads: 2 };
const GQA: Case[] = [
  { name: "prompt, batch 2", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 4, undefined, [4, 4], 4), outputs: ["y", "present_key", "present_value"], attrs: HEADS },
  { name: "prompt after an empty past", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 4, 0, [4, 4], 4), outputs: ["y", "present_key", "present_value"], attrs: HEADS },
  { name: "decode step after a past of 3", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 1, 3, [4, 4], 4), outputs: ["y", "present_key", "present_value"], attrs: HEADS },
  { name: "3 more tokens after a past of 2", op: "GroupQueryAttention", domain: MS, inputs: gqa(1, 3, 2, [5], 5), outputs: ["y", "present_key", "present_value"], attrs: HEADS },
  { name: "rotary, prompt", op: "GroupQueryAttention", domain: MS, inputs: [...gqa(2, 4, undefined, [4, 4], 4), ...CACHES], outputs: ["y", "present_key", "present_value"], attrs: { ...HEADS, do_rotary: 1 }, fused: { Attention: 1, Rotary: 2 } },
  { name: "rotary interleaved, decode step", op: "GroupQueryAttention", domain: MS, inputs: [...gqa(2, 1, 3, [4, 4], 4), ...CACHES], outputs: ["y", "present_key", "present_value"], attrs: { ...HEADS, do_rotary: 1, rotary_interleaved: 1 }, fused: { Attention: 1, Rotary: 2 } },
  { name: "partial rotary, 3 more tokens", op: "GroupQueryAttention", domain: MS, inputs: [...gqa(1, 3, 2, [5], 5, 32), ...CACHES], outputs: ["y", "present_key", "present_value"], attrs: { ...HEADS, do_rotary: 1 }, fused: { Attention: 1, Rotary: 2 } },
  { name: "local window of 2", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 6, undefined, [6, 6], 6), outputs: ["y", "present_key", "present_value"], attrs: { ...HEADS, local_window_size: 2 } },
  { name: "local window, decode step", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 1, 5, [6, 6], 6), outputs: ["y", "present_key", "present_value"], attrs: { ...HEADS, local_window_size: 3 } },
  { name: "softcap and scale", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 4, undefined, [4, 4], 4), outputs: ["y", "present_key", "present_value"], attrs: { ...HEADS, softcap: 0.5, scale: 0.7 }, fused: { Attention: 0 } },
  { name: "packed QKV", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 4, undefined, [4, 4], 4, 16, true), outputs: ["y", "present_key", "present_value"], attrs: HEADS },
  { name: "packed QKV, rotary, decode step", op: "GroupQueryAttention", domain: MS, inputs: [...gqa(2, 1, 3, [4, 4], 4, 16, true), ...CACHES], outputs: ["y", "present_key", "present_value"], attrs: { ...HEADS, do_rotary: 1 }, fused: { Attention: 1, Rotary: 2 } },
];

// Layouts onnxruntime computes that the expansion does not write: the direct kernel only.
const GQA_DIRECT: Case[] = [
  { name: "prompt with a right-padded batch entry", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 4, undefined, [4, 2], 4), outputs: ["y", "present_key", "present_value"], attrs: HEADS },
  { name: "ragged decode in a longer buffer", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 1, 5, [4, 2], 4), outputs: ["y", "present_key", "present_value"], attrs: HEADS },
  { name: "decode into a buffer as long as the past (shared-buffer layout)", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 1, 6, [4, 3], 4), outputs: ["y", "present_key", "present_value"], attrs: HEADS },
  { name: "first prompt into a longer past buffer", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 4, 8, [4, 4], 4), outputs: ["y", "present_key", "present_value"], attrs: HEADS },
  { name: "padded prompt with a local window", op: "GroupQueryAttention", domain: MS, inputs: gqa(2, 6, undefined, [6, 2], 6), outputs: ["y", "present_key", "present_value"], attrs: { ...HEADS, local_window_size: 2 } },
  { name: "ragged decode with rotary", op: "GroupQueryAttention", domain: MS, inputs: [...gqa(2, 1, 5, [4, 2], 4), ...CACHES], outputs: ["y", "present_key", "present_value"], attrs: { ...HEADS, do_rotary: 1 } },
];

function valuesOf(input: Input, seed: number): number[] {
  if (input.values) return [...input.values];
  const random = seededRandom(seed), n = input.dims.reduce((p, d) => p * d, 1);
  return Array.from({ length: n }, () => random() * 4 - 2);
}

interface Written {
  readonly path: string;
  readonly feeds: Record<string, Tensor>;
}

function writeCase(c: Case, file = c.name): Written {
  const feeds: Record<string, Tensor> = {};
  const inputs = [], initializers = [];
  let seed = 11;
  for (const spec of c.inputs) {
    if (!spec) continue;
    const values = valuesOf(spec, seed++), dtype = spec.dtype ?? "f32";
    if (spec.weight) {
      initializers.push(dtype === "f32" ? floatTensor(spec.name, [...spec.dims], values)
        : { name: spec.name, dims: [...spec.dims], dataType: ONNX_TYPE[dtype]!, ...(dtype === "i64" ? { int64Data: values } : { int32Data: values }) });
    }
    else {
      inputs.push(valueInfo(spec.name, ONNX_TYPE[dtype]!, [...(spec.declared ?? spec.dims)]));
      feeds[spec.name] = tensorFromValues(dtype as DType, spec.dims, values);
    }
  }
  const path = join(dir, `${file.replace(/\W+/g, "-")}.onnx`);
  writeModel(path, model({
    nodes: [node(c.op, c.inputs.map((i) => i?.name ?? ""), [...c.outputs], c.attrs ?? {}, "attn", c.domain ?? "")],
    inputs, initializers, outputs: c.outputs.filter((o) => o !== ""), opset: c.opset ?? 23, irVersion: 10,
    extraOpsets: c.domain ? [{ domain: c.domain, version: 1 }] : [],
  }));
  return { path, feeds };
}

async function onnxruntime({ path, feeds }: Written): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(path);
  try {
    const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => {
      const data = t.dtype === "bool" ? Uint8Array.from(t.data as Uint8Array) : t.data;
      return [n, new ort.Tensor(ORT_TYPE[t.dtype as keyof typeof ORT_TYPE], data as Float32Array, [...t.dims])];
    })));
    return Object.fromEntries(Object.entries(out).map(([n, t]) => [n, t.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** Worst |ours - theirs| / max(1, |theirs|) over every output, checking shapes match. */
function worstError(c: Case, ours: Record<string, Tensor>, theirs: Record<string, Float32Array>): number {
  let worst = 0;
  for (const name of c.outputs.filter((o) => o !== "")) {
    const a = ours[name]!.data as Float32Array, b = theirs[name]!;
    expect(a.length, `${c.name}: ${name}`).toBe(b.length);
    for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  }
  return worst;
}

const TOLERANCE = 1e-5;
const measured: string[] = [];
afterAll(() => console.log(`errors against onnxruntime (max |ours - ort| / max(1, |ort|)):\n${measured.join("\n")}`));

async function compareBoth(c: Case, label: string): Promise<Module> {
  const written = writeCase(c, `${label}-${c.name}`);
  const theirs = await onnxruntime(written);
  const direct = (await loadModel(written.path, { passes: "" })).module;
  const { module: expanded } = await loadModel(written.path);
  expect(mainGraph(expanded).nodes.some((n) => n.op === c.op && n.domain === (c.domain ?? ""))).toBe(false);
  const directError = worstError(c, run(direct, written.feeds, { modelDir: dir }).outputs, theirs);
  const expandedError = worstError(c, run(expanded, written.feeds, { modelDir: dir }).outputs, theirs);
  measured.push(`${label}: ${c.name}: direct kernel ${directError.toExponential(1)}, expanded ${expandedError.toExponential(1)}`);
  expect(directError, `${c.name}: direct kernel`).toBeLessThanOrEqual(TOLERANCE);
  expect(expandedError, `${c.name}: expanded`).toBeLessThanOrEqual(TOLERANCE);
  return expanded;
}

function composites(module: Module): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of mainGraph(module).nodes) if (n.domain === "tierflow") counts[n.op] = (counts[n.op] ?? 0) + 1;
  return counts;
}

describe.each([["Attention", ATTENTION], ["RotaryEmbedding", ROTARY], ["MultiHeadAttention", MHA], ["GroupQueryAttention", GQA]] as const)("%s agrees with onnxruntime", (label, cases) => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const expanded = await compareBoth(c, label);
    // After fusion: one tierflow.Attention per attention op (none with a soft cap), one Rotary per rotary op.
    const fused = composites(runPipeline(expanded, "fuse-patterns,dce").module);
    const want = c.fused ?? (c.op === "RotaryEmbedding" ? { Rotary: 1 } : { Attention: 1 });
    for (const [op, n] of Object.entries(want)) expect(fused[op] ?? 0, `${c.name}: tierflow.${op}`).toBe(n);
    if (!c.fused && c.op === "RotaryEmbedding") expect(fused.Attention).toBeUndefined();
  });
});

describe("GroupQueryAttention layouts only the direct kernel computes", () => {
  it.each(GQA_DIRECT.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const written = writeCase(c, `direct-${c.name}`);
    const theirs = await onnxruntime(written);
    const direct = (await loadModel(written.path, { passes: "" })).module;
    const error = worstError(c, run(direct, written.feeds, { modelDir: dir }).outputs, theirs);
    measured.push(`GroupQueryAttention (direct only): ${c.name}: direct kernel ${error.toExponential(1)}`);
    expect(error).toBeLessThanOrEqual(TOLERANCE);
    // The expansion refuses them: statically when the sizes say so, else its graph-level check stops the run.
    let refused = "ran";
    try {
      run((await loadModel(written.path)).module, written.feeds, { modelDir: dir });
    } catch (err) {
      refused = err instanceof TierflowError ? err.format() : String(err);
    }
    expect(refused).toMatch(/past buffer|check that seqlens_k \+ 1 = total_sequence_length = past length \+ sequence length/);
  });
});

describe("the expansion's KV cache is Concat(past, new), which mark-kv-cache finds", () => {
  it("present_key and present_value are the Concat nodes' outputs, then CacheAppends", async () => {
    const c = GQA[2]!;
    const { module } = await loadModel(writeCase(c, "kv-cache").path);
    for (const [present, past] of [["present_key", "pk"], ["present_value", "pv"]] as const) {
      const producer = mainGraph(module).nodes.find((n) => n.outputs.includes(present))!;
      expect(producer.op).toBe("Concat");
      expect(producer.inputs[0]).toBe(past);
      expect(producer.attrs.axis).toEqual({ type: "int", value: 2 });
    }
    const marked = runPipeline(module, "mark-kv-cache,fuse-patterns,dce").module;
    expect(composites(marked)).toEqual({ CacheAppend: 2, Attention: 1 });
  });
});

describe("what they cannot compute is refused by name", () => {
  const refusal = async (c: Case, pattern: RegExp) => {
    const { path } = writeCase(c, `refused-${c.name}`);
    await expect(loadModel(path)).rejects.toThrow(pattern);
  };
  const att = (attrs: Record<string, unknown>, outputs = ["y"], opset = 23, extra: (Input | null)[] = []): Case =>
    ({ name: JSON.stringify(attrs) + outputs.join() + opset, op: "Attention", opset, inputs: [f32("q", 1, 2, 3, 8), f32("k", 1, 2, 3, 8), f32("v", 1, 2, 3, 8), ...extra], outputs, attrs });
  it("Attention: the qk output, its modes, softmax precision, nonpad_kv_seqlen, a short mask, opset 25, an int mask", async () => {
    await refusal(att({}, ["y", "", "", "qk"]), /Attention's output 3 \(qk_matmul_output\) is not supported; leave it unused/);
    await refusal(att({ qk_matmul_output_mode: 1 }), /Attention with qk_matmul_output_mode 1 is not supported/);
    await refusal(att({ softmax_precision: 10 }), /Attention with softmax_precision 10 is not supported/);
    await refusal(att({}, ["y"], 24, [null, null, null, ints("n", "i64", [1], [3])]), /Attention's input nonpad_kv_seqlen \(opset 24\) is not supported/);
    await refusal(att({}, ["y"], 24, [bools("m", [1, 1, 3, 2], [1, 1, 1, 1, 1, 1])]), /attn_mask's last axis \(2\) is shorter than the total sequence length \(3\)/);
    await refusal(att({}, ["y"], 25), /Attention of opset 25 is not supported/);
    await refusal(att({}, ["y"], 23, [ints("m", "i64", [3, 3], [0, 0, 0, 0, 0, 0, 0, 0, 0])]), /attn_mask has dtype i64/);
    await refusal({ ...att({}), inputs: [f32("q", 1, 3, 16), f32("k", 1, 3, 16), f32("v", 1, 3, 16)] }, /Attention with 3-D inputs needs the attributes q_num_heads and kv_num_heads/);
  });
  it("RotaryEmbedding: is_packed_batching, a scale, rotary_embedding_dim without num_heads", async () => {
    const rot = (attrs: Record<string, unknown>): Case => ({ name: `rot${JSON.stringify(attrs)}`, op: "RotaryEmbedding", domain: MS, inputs: [f32("x", 2, 3, 16), POSITIONS, f32("cos", 10, 4), f32("sin", 10, 4)], outputs: ["y"], attrs });
    await refusal(rot({ is_packed_batching: 1 }), /RotaryEmbedding with is_packed_batching \(ragged batches\) is not supported/);
    await refusal(rot({ scale: 2.5 }), /RotaryEmbedding with scale 2.5 is not supported/);
    await refusal(rot({ rotary_embedding_dim: 4 }), /RotaryEmbedding with rotary_embedding_dim needs num_heads/);
    await refusal({ name: "onnx rot 3d", op: "RotaryEmbedding", inputs: [f32("x", 2, 3, 16), f32("cos", 10, 4), f32("sin", 10, 4), POSITIONS], outputs: ["y"] }, /RotaryEmbedding with a 3-D input needs the attribute num_heads/);
  });
  it("MultiHeadAttention: packed QKV and KV, the long mask forms, the qk output, a past without presents, cache inputs", async () => {
    const mha = (inputs: (Input | null)[], outputs = ["y"]): Case => ({ name: `mha${inputs.map((i) => i?.dims.join("x")).join()}${outputs.join()}`, op: "MultiHeadAttention", domain: MS, inputs, outputs, attrs: { num_heads: 2 } });
    await refusal(mha([f32("q", 2, 3, 2, 3, 8)]), /MultiHeadAttention without key and value \(packed QKV in query\) is not supported/);
    await refusal(mha([f32("q", 2, 3, 16), f32("k", 2, 4, 2, 2, 8), f32("v", 2, 4, 16)]), /key must be 3-D .*packed KV is not supported/);
    await refusal(mha([...QKV, null, ints("m", "i32", [8], [2, 3, 0, 0, 0, 0, 4, 4])]), /key_padding_mask of shape \[8\] is not supported/);
    await refusal(mha(QKV, ["y", "", "", "qk"]), /MultiHeadAttention's output 3 \(qk\) is not supported/);
    await refusal(mha([...SELF, null, null, null, f32("pk", 2, 2, 2, 8), f32("pv", 2, 2, 2, 8)]), /MultiHeadAttention with past_key and past_value needs the present_key and present_value outputs/);
    await refusal(mha([...SELF, null, null, null, f32("pk", 2, 2, 2, 8), f32("pv", 2, 2, 2, 8), ints("psl", "i32", [1], [2])], ["y", "pk2", "pv2"]), /input past_sequence_length .* is not supported/);
  });
  it("GroupQueryAttention: later inputs, smooth softmax, qk output, bidirectional, quantized caches, window caches, the shared-buffer layout", async () => {
    const g = (attrs: Record<string, unknown>, extra: (Input | null)[] = [], outputs = ["y"], inputs = gqa(1, 2, undefined, [2], 2)): Case =>
      ({ name: `gqa${JSON.stringify(attrs)}${extra.length}${outputs.join()}${inputs.length}`, op: "GroupQueryAttention", domain: MS, inputs: [...inputs, ...extra], outputs, attrs: { ...HEADS, ...attrs } });
    await refusal(g({}, [null, null, ints("pos", "i64", [1, 2], [0, 1])]), /GroupQueryAttention's input 9 \(position_ids\) is not supported/);
    await refusal(g({}, [null, null, null, f32("ab", 1, 1, 2, 2)]), /GroupQueryAttention's input 10 \(attention_bias\) is not supported/);
    await refusal(g({ smooth_softmax: 1 }), /GroupQueryAttention with smooth_softmax 1 \(smooth softmax\) is not supported/);
    await refusal(g({ qk_output: 1 }), /GroupQueryAttention with qk_output 1/);
    await refusal(g({ causal: 0 }), /GroupQueryAttention with causal 0 \(bidirectional attention\) is not supported/);
    await refusal(g({ k_quant_type: "PER_TENSOR" }), /GroupQueryAttention with k_quant_type 'PER_TENSOR' \(a quantized KV cache\) is not supported/);
    await refusal(g({ sliding_window_cache: 1 }), /GroupQueryAttention with sliding_window_cache 1 \(window-sized KV buffers\) is not supported/);
    await refusal(g({}, [], ["y", "", "", "qk"]), /GroupQueryAttention's output 3 \(output_qk\) is not supported/);
    await refusal(g({ do_rotary: 1 }), /GroupQueryAttention with do_rotary needs cos_cache and sin_cache/);
    // A past buffer longer than its valid tokens, known from the sizes: the present keeps the past's length.
    const known = gqa(2, 1, 6, [4, 4], 4).map((i) => (i?.name === "total" ? { ...i, weight: true } : i));
    await refusal(g({}, [], ["y", "pk2", "pv2"], known), /GroupQueryAttention with total_sequence_length 4, a past buffer of 6 and 1 new tokens keeps a present buffer of 6/);
  });
});
