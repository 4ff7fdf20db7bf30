// Writes a Llama-family decoder as an ONNX graph with the node structure the
// PyTorch TorchScript exporter produces for Hugging Face's LlamaForCausalLM
// (RMSNorm as Pow/ReduceMean/Add/Sqrt/Div/Mul, rotate-half rotary embedding,
// grouped KV heads through Expand/Reshape, SiLU-gated MLP, shape arithmetic
// through Shape/Gather/Concat/Reshape), with weights as external data.
// Used for benchmarks and tests at real model sizes without real weights:
// the weight file is not written unless asked for (zeros, or seeded random
// values for tests that compare numbers).
//
// With `past`, the graph is the "with past" form deployed decoders take
// (Optimum, transformers.js): inputs attention_mask, position_ids and
// past_key_values.<l>.key|value [batch, kv_heads, past_sequence, head_dim];
// outputs present.<l>.key|value, each Concat(past, new) on the token axis;
// rotary angles from position_ids; the mask hides later and padded keys.
//
//   npx tsx examples/generate/llama-onnx.ts --preset llama-2-7b -o out/llama-2-7b/model.onnx [--past] [--weights]

import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { encodeModel } from "../../compiler/onnx/proto.js";
import type { ModelProto, NodeProto, TensorProto } from "../../compiler/onnx/proto.js";
import { seededRandom } from "../../compiler/seeded-random.js";

export interface LlamaConfig {
  readonly vocab: number;
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ropeTheta: number;
  /** ONNX element type of the weights: 1 = float32, 10 = float16, 16 = bfloat16. */
  readonly weightType: 1 | 10 | 16;
}

export const LLAMA_PRESETS: Readonly<Record<string, LlamaConfig>> = {
  // Touvron et al., "Llama 2" (2023), Table 1 / the released config.json files.
  "llama-2-7b": { vocab: 32000, hidden: 4096, intermediate: 11008, layers: 32, heads: 32, kvHeads: 32, ropeTheta: 10000, weightType: 10 },
  "llama-2-13b": { vocab: 32000, hidden: 5120, intermediate: 13824, layers: 40, heads: 40, kvHeads: 40, ropeTheta: 10000, weightType: 10 },
  "llama-2-70b": { vocab: 32000, hidden: 8192, intermediate: 28672, layers: 80, heads: 64, kvHeads: 8, ropeTheta: 10000, weightType: 10 },
  // Llama 3.1 model card: 8B and 70B configurations.
  "llama-3.1-8b": { vocab: 128256, hidden: 4096, intermediate: 14336, layers: 32, heads: 32, kvHeads: 8, ropeTheta: 500000, weightType: 16 },
  "llama-3.1-70b": { vocab: 128256, hidden: 8192, intermediate: 28672, layers: 80, heads: 64, kvHeads: 8, ropeTheta: 500000, weightType: 16 },
  tiny: { vocab: 256, hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, ropeTheta: 10000, weightType: 1 },
};

const BYTES: Record<number, number> = { 1: 4, 2: 1, 10: 2, 16: 2 };
/** Columns of K sharing one scale in the int4 form (onnxruntime's MatMulNBitsQuantizer default). */
const INT4_BLOCK = 32;

class Builder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private offset = 0;
  private count = 0;

  constructor(private readonly dataFile: string, private readonly weightType: number) {}

  /** Where each weight lies in the data file: what writeLlama fills. */
  readonly layout: { offset: number; length: number }[] = [];

  op(opType: string, inputs: string[], attrs: Record<string, number | number[]> = {}, outputs = 1, scope = ""): string[] {
    const name = `${scope}/${opType}_${this.count++}`;
    const outs = Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`);
    const attribute = Object.entries(attrs).map(([key, v]) =>
      Array.isArray(v) ? { name: key, type: 7, ints: v } : Number.isInteger(v) && key !== "epsilon" ? { name: key, type: 2, i: v } : { name: key, type: 1, f: v });
    this.nodes.push({ opType, input: inputs, output: outs, name, attribute });
    return outs;
  }

  one(opType: string, inputs: string[], attrs: Record<string, number | number[]> = {}, scope = ""): string {
    return this.op(opType, inputs, attrs, 1, scope)[0]!;
  }

  ints(name: string, values: number[], scalar = false): string {
    this.initializers.push({ name, dims: scalar ? [] : [values.length], dataType: 7, int64Data: values });
    return name;
  }

  float(name: string, value: number): string {
    this.initializers.push({ name, dims: [], dataType: 1, floatData: [value] });
    return name;
  }

  weight(name: string, dims: number[], dataType = this.weightType): string {
    const length = dims.reduce((p, d) => p * d, 1) * BYTES[dataType]!;
    this.initializers.push({
      name, dims, dataType, dataLocation: 1,
      externalData: [
        { key: "location", value: this.dataFile },
        { key: "offset", value: String(this.offset) },
        { key: "length", value: String(length) },
      ],
    });
    this.layout.push({ offset: this.offset, length });
    this.offset += length;
    return name;
  }

  get dataBytes(): number {
    return this.offset;
  }
}

export interface LlamaOptions {
  /** The with-past form: KV cache inputs and outputs, attention mask and position ids. */
  readonly past?: boolean;
  /**
   * int4: every linear layer as onnxruntime's MatMulNBits (4-bit weights in blocks of 32 along K,
   * one scale per block in the weight type, symmetric), as MatMulNBitsQuantizer writes them.
   */
  readonly weights?: "float" | "int4";
}

export function llamaModel(cfg: LlamaConfig, dataFile: string, options: LlamaOptions = {}): { model: ModelProto; dataBytes: number; layout: readonly { offset: number; length: number }[] } {
  const b = new Builder(dataFile, cfg.weightType);
  const past = options.past ?? false;
  const int4 = options.weights === "int4";
  /** x [.., K] times the weight [K, N]: a MatMul, or MatMulNBits over packed 4-bit blocks. */
  const linear = (x: string, name: string, k: number, n: number, scope: string): string => {
    if (!int4) return b.one("MatMul", [x, b.weight(`${name}_T`, [k, n])], {}, scope);
    const blocks = Math.ceil(k / INT4_BLOCK);
    const out = b.op("MatMulNBits", [x, b.weight(`${name}_Q4`, [n, blocks, INT4_BLOCK / 2], 2), b.weight(`${name}_scales`, [n * blocks])],
      { K: k, N: n, bits: 4, block_size: INT4_BLOCK }, 1, scope);
    b.nodes[b.nodes.length - 1]!.domain = "com.microsoft";
    return out[0]!;
  };
  const headDim = cfg.hidden / cfg.heads;
  const groups = cfg.heads / cfg.kvHeads;
  const zero = b.ints("const_0", [0]), one = b.ints("const_1", [1]), minus1 = b.ints("const_m1", [-1]);
  const axis0 = zero, axis1 = one;
  const toF32 = (x: string, scope: string) => (cfg.weightType === 1 ? x : b.one("Cast", [x], { to: 1 }, scope));
  const fromF32 = (x: string, scope: string) => (cfg.weightType === 1 ? x : b.one("Cast", [x], { to: cfg.weightType }, scope));

  // Shapes: batch and sequence length from the input, as the exporter computes them.
  const ids = "input_ids";
  const idsShape = b.one("Shape", [ids], {}, "/model");
  const batch = b.one("Gather", [idsShape, b.ints("const_idx0", [0], true)], { axis: 0 }, "/model");
  const seq = b.one("Gather", [idsShape, b.ints("const_idx1", [1], true)], { axis: 0 }, "/model");
  const batch1 = b.one("Unsqueeze", [batch, axis0], {}, "/model");
  const seq1 = b.one("Unsqueeze", [seq, axis0], {}, "/model");

  let h = b.one("Gather", [b.weight("model.embed_tokens.weight", [cfg.vocab, cfg.hidden]), ids], { axis: 0 }, "/model/embed_tokens");
  const minimum = b.float("const_min", cfg.weightType === 10 ? -65504 : -3.4028234663852886e38);

  // Rotary tables: positions (0..seq-1, or the position_ids given) times inverse frequencies.
  const r = "/model/rotary_emb";
  const invFreq = b.weight("model.rotary_emb.inv_freq", [headDim / 2]);
  const invF = b.one("Unsqueeze", [toF32(invFreq, r), axis0], {}, r);
  let cos: string, sin: string;
  if (past) {
    // [batch, seq, 1] x [1, head_dim / 2] -> angles per batch entry, [batch, 1, seq, head_dim] tables.
    const posF = b.one("Cast", [b.one("Unsqueeze", ["position_ids", b.ints("const_m1_axis", [-1])], {}, r)], { to: 1 }, r);
    const emb = b.one("Concat", [b.one("MatMul", [posF, invF], {}, r), b.one("MatMul", [posF, invF], {}, r)], { axis: -1 }, r);
    cos = b.one("Unsqueeze", [fromF32(b.one("Cos", [emb], {}, r), r), axis1], {}, r);
    sin = b.one("Unsqueeze", [fromF32(b.one("Sin", [emb], {}, r), r), axis1], {}, r);
  } else {
    const positions = b.one("Range", [b.ints("const_start", [0], true), seq, b.ints("const_step", [1], true)], {}, r);
    const posF = b.one("Cast", [b.one("Unsqueeze", [positions, axis1], {}, r)], { to: 1 }, r);
    const emb = b.one("Concat", [b.one("MatMul", [posF, invF], {}, r), b.one("MatMul", [posF, invF], {}, r)], { axis: -1 }, r);
    cos = b.one("Unsqueeze", [fromF32(b.one("Cos", [emb], {}, r), r), axis0], {}, r);
    sin = b.one("Unsqueeze", [fromF32(b.one("Sin", [emb], {}, r), r), axis0], {}, r);
  }

  // Keys per query: the sequence, or the cache's tokens and the sequence after them.
  let keys1 = seq1, mask: string;
  if (past) {
    const pastLength = b.one("Gather", [b.one("Shape", ["past_key_values.0.key"], {}, "/model"), b.ints("const_idx2", [2], true)], { axis: 0 }, "/model");
    const total = b.one("Add", [pastLength, seq], {}, "/model");
    keys1 = b.one("Unsqueeze", [total, axis0], {}, "/model");
    // Query i sits at pastLength + i; key j is visible where j <= that and attention_mask[b, j] is 1.
    const step = b.ints("const_step", [1], true);
    const queryAt = b.one("Unsqueeze", [b.one("Range", [pastLength, total, step], {}, "/model"), b.ints("const_axes_1", [1])], {}, "/model");
    const keyAt = b.one("Unsqueeze", [b.one("Range", [b.ints("const_start", [0], true), total, step], {}, "/model"), axis0], {}, "/model");
    const causal = b.one("LessOrEqual", [keyAt, queryAt], {}, "/model");
    const padded = b.one("Unsqueeze", [b.one("Cast", ["attention_mask"], { to: 9 }, "/model"), b.ints("const_axes_12", [1, 2])], {}, "/model");
    const visible = b.one("And", [b.one("Unsqueeze", [causal, axis0], {}, "/model"), padded], {}, "/model");
    mask = fromF32(b.one("Where", [visible, b.float("const_zero", 0), minimum], {}, "/model"), "/model");
  } else {
    // Causal mask [seq, seq]: 0 on and below the diagonal, the dtype's minimum above.
    const seqSq = b.one("Concat", [seq1, seq1], { axis: 0 }, "/model");
    const fill = b.one("ConstantOfShape", [seqSq], {}, "/model");
    const upper = b.one("Trilu", [b.one("Add", [fill, minimum], {}, "/model"), one], { upper: 1 }, "/model");
    mask = fromF32(upper, "/model");
  }
  const presents: string[] = [];

  const rmsNorm = (x: string, weight: string, scope: string) => {
    const xf = toF32(x, scope);
    const variance = b.one("ReduceMean", [b.one("Pow", [xf, b.float(`${scope}/two`, 2)], {}, scope), minus1], { keepdims: 1 }, scope);
    const inv = b.one("Div", [b.float(`${scope}/one`, 1), b.one("Sqrt", [b.one("Add", [variance, b.float(`${scope}/eps`, 1e-5)], {}, scope)], {}, scope)], {}, scope);
    return b.one("Mul", [b.weight(weight, [cfg.hidden]), fromF32(b.one("Mul", [xf, inv], {}, scope), scope)], {}, scope);
  };
  const heads = (x: string, n: number, scope: string) => {
    const shape = b.one("Concat", [batch1, seq1, b.ints(`${scope}/heads`, [n]), b.ints(`${scope}/head_dim`, [headDim])], { axis: 0 }, scope);
    return b.one("Transpose", [b.one("Reshape", [x, shape], {}, scope)], { perm: [0, 2, 1, 3] }, scope);
  };
  const rotate = (x: string, scope: string) => {
    const half = b.ints(`${scope}/half`, [headDim / 2]), end = b.ints(`${scope}/end`, [Number.MAX_SAFE_INTEGER]);
    const x1 = b.one("Slice", [x, zero, half, b.ints(`${scope}/axis`, [3]), one], {}, scope);
    const x2 = b.one("Slice", [x, half, end, b.ints(`${scope}/axis2`, [3]), one], {}, scope);
    const rotated = b.one("Concat", [b.one("Neg", [x2], {}, scope), x1], { axis: -1 }, scope);
    return b.one("Add", [b.one("Mul", [x, cos], {}, scope), b.one("Mul", [rotated, sin], {}, scope)], {}, scope);
  };
  const repeatKv = (x: string, scope: string) => {
    if (groups === 1) return x;
    const expanded = b.one("Expand", [b.one("Unsqueeze", [x, b.ints(`${scope}/ax2`, [2])], {}, scope),
      b.one("Concat", [batch1, b.ints(`${scope}/kv`, [cfg.kvHeads]), b.ints(`${scope}/groups`, [groups]), keys1, b.ints(`${scope}/hd`, [headDim])], { axis: 0 }, scope)], {}, scope);
    const shape = b.one("Concat", [batch1, b.ints(`${scope}/h`, [cfg.heads]), keys1, b.ints(`${scope}/hd2`, [headDim])], { axis: 0 }, scope);
    return b.one("Reshape", [expanded, shape], {}, scope);
  };
  /** With past: the cache's tokens, then this pass's, as the present output. */
  const cached = (x: string, l: number, kv: "key" | "value", scope: string) => {
    if (!past) return x;
    const present = `present.${l}.${kv}`;
    b.nodes.push({ opType: "Concat", input: [`past_key_values.${l}.${kv}`, x], output: [present], name: `${scope}/Concat_${kv}`, attribute: [{ name: "axis", type: 2, i: 2 }] });
    presents.push(present);
    return present;
  };

  for (let l = 0; l < cfg.layers; l++) {
    const p = `model.layers.${l}`, s = `/model/layers.${l}`;
    const x = rmsNorm(h, `${p}.input_layernorm.weight`, `${s}/input_layernorm`);
    const proj = (name: string, out: number) => linear(x, `${p}.self_attn.${name}.weight`, cfg.hidden, out, `${s}/self_attn/${name}`);
    const q = rotate(heads(proj("q_proj", cfg.hidden), cfg.heads, `${s}/self_attn/q`), `${s}/self_attn/rope_q`);
    const kNew = rotate(heads(proj("k_proj", cfg.kvHeads * headDim), cfg.kvHeads, `${s}/self_attn/k`), `${s}/self_attn/rope_k`);
    const k = repeatKv(cached(kNew, l, "key", `${s}/self_attn`), `${s}/self_attn/repeat_k`);
    const v = repeatKv(cached(heads(proj("v_proj", cfg.kvHeads * headDim), cfg.kvHeads, `${s}/self_attn/v`), l, "value", `${s}/self_attn`), `${s}/self_attn/repeat_v`);
    const a = `${s}/self_attn`;
    const scores = b.one("Mul", [b.one("MatMul", [q, b.one("Transpose", [k], { perm: [0, 1, 3, 2] }, a)], {}, a), fromF32(b.float(`${a}/scale`, 1 / Math.sqrt(headDim)), a)], {}, a);
    const probs = fromF32(b.one("Softmax", [toF32(b.one("Add", [scores, mask], {}, a), a)], { axis: -1 }, a), a);
    const ctx = b.one("Transpose", [b.one("MatMul", [probs, v], {}, a)], { perm: [0, 2, 1, 3] }, a);
    const merged = b.one("Reshape", [ctx, b.one("Concat", [batch1, seq1, minus1], { axis: 0 }, a)], {}, a);
    h = b.one("Add", [h, linear(merged, `${p}.self_attn.o_proj.weight`, cfg.hidden, cfg.hidden, `${a}/o_proj`)], {}, s);
    const m = `${s}/mlp`;
    const y = rmsNorm(h, `${p}.post_attention_layernorm.weight`, `${s}/post_attention_layernorm`);
    const gate = linear(y, `${p}.mlp.gate_proj.weight`, cfg.hidden, cfg.intermediate, m);
    const up = linear(y, `${p}.mlp.up_proj.weight`, cfg.hidden, cfg.intermediate, m);
    const act = b.one("Mul", [gate, b.one("Sigmoid", [gate], {}, m)], {}, m);
    h = b.one("Add", [h, linear(b.one("Mul", [act, up], {}, m), `${p}.mlp.down_proj.weight`, cfg.intermediate, cfg.hidden, m)], {}, s);
  }
  const final = rmsNorm(h, "model.norm.weight", "/model/norm");
  const logits = linear(final, "lm_head.weight", cfg.hidden, cfg.vocab, "/lm_head");
  b.nodes.push({ opType: "Identity", input: [toF32(logits, "/lm_head")], output: ["logits"], name: "/logits" });

  const elem = (d: (string | number)[], t: number) => ({ type: { tensorType: { elemType: t, shape: { dim: d.map((x) => (typeof x === "number" ? { dimValue: x } : { dimParam: x })) } } } });
  const model: ModelProto = {
    irVersion: 8,
    producerName: "tierflow-llama-generator",
    opsetImport: [{ domain: "", version: 18 }, ...(int4 ? [{ domain: "com.microsoft", version: 1 }] : [])],
    graph: {
      name: "main_graph",
      node: b.nodes,
      initializer: b.initializers,
      input: [{ name: "input_ids", ...elem(["batch", "sequence"], 7) }, ...(past ? [
        { name: "attention_mask", ...elem(["batch", "total_sequence"], 7) },
        { name: "position_ids", ...elem(["batch", "sequence"], 7) },
        ...presents.map((p) => ({ name: p.replace("present.", "past_key_values."), ...elem(["batch", cfg.kvHeads, "past_sequence", headDim], cfg.weightType) })),
      ] : [])],
      output: [{ name: "logits", ...elem(["batch", "sequence", cfg.vocab], 1) },
        ...presents.map((p) => ({ name: p, ...elem(["batch", cfg.kvHeads, "total_sequence", headDim], cfg.weightType) }))],
    },
  };
  return { model, dataBytes: b.dataBytes, layout: b.layout };
}

export interface WriteOptions extends LlamaOptions {
  /** Write the weight file: zeros, or with `seed` weights uniform in [-scale, scale) (float32 and bfloat16 models). */
  readonly writeWeights?: boolean;
  readonly seed?: number;
  readonly scale?: number;
}

/** Write model.onnx (and, if asked, the weight file). */
export function writeLlama(path: string, cfg: LlamaConfig, options: WriteOptions = {}): { dataFile: string; dataBytes: number; nodes: number } {
  const dataFile = `${basename(path)}.data`;
  const { model, dataBytes, layout } = llamaModel(cfg, dataFile, options);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodeModel(model));
  if (options.writeWeights) {
    const data = new Uint8Array(dataBytes);
    if (options.seed !== undefined) {
      if ((cfg.weightType !== 1 && cfg.weightType !== 16) || options.weights === "int4") throw new Error("random weights are written for float32 and bfloat16 models only");
      const random = seededRandom(options.seed), scale = options.scale ?? 0.2;
      const value = new Float32Array(1), bits = new Uint32Array(value.buffer);
      const view = new DataView(data.buffer);
      for (const w of layout) {
        const size = BYTES[cfg.weightType]!;
        for (let at = w.offset; at < w.offset + w.length; at += size) {
          value[0] = (random() * 2 - 1) * scale;
          // bfloat16: the top half of the float32 bits, rounded to nearest even.
          if (size === 2) view.setUint16(at, (bits[0]! + 0x7fff + ((bits[0]! >>> 16) & 1)) >>> 16, true);
          else view.setFloat32(at, value[0], true);
        }
      }
    }
    writeFileSync(`${path}.data`, data);
  }
  return { dataFile, dataBytes, nodes: model.graph!.node!.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const preset = args[args.indexOf("--preset") + 1] ?? "llama-2-7b";
  const out = args[args.indexOf("-o") + 1] ?? `out/${preset}/model.onnx`;
  const cfg = LLAMA_PRESETS[preset];
  if (!cfg) {
    process.stderr.write(`unknown preset '${preset}' (known: ${Object.keys(LLAMA_PRESETS).join(", ")})\n`);
    process.exit(1);
  }
  const r = writeLlama(out, cfg, { writeWeights: args.includes("--weights"), past: args.includes("--past"), weights: args.includes("--int4") ? "int4" : "float" });
  process.stdout.write(`wrote ${out}: ${r.nodes} nodes, weights ${r.dataBytes} bytes in ${r.dataFile}${args.includes("--weights") ? "" : " (not written)"}\n`);
}
