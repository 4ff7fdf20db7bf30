// The dataflow and placement texts: print -> parse -> print is the identity and
// parse gives back an equal module (every number included), names that need
// quotes survive, the printer refuses numbers with no textual form, and
// malformed text fails at the right line:column.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import type { DataflowModule, DfKernel } from "../../ir/dataflow/dataflow.js";
import { parseDataflow, printDataflow } from "../../ir/dataflow/text.js";
import { TierflowError } from "../../ir/diagnostics.js";
import type { Plan, Section } from "../../ir/placement/plan.js";
import { parsePlacement, printPlacement } from "../../ir/placement/text.js";

function kernel(name: string, kind: string, inputs: string[], outputs: string[], extra: Partial<DfKernel> = {}): DfKernel {
  return {
    name, kind, nodes: [`/model/${name}`], ops: ["Op"], inputs, outputs, dtype: "bf16", flops: 0, streaming: "columns",
    tiling: { tileShape: [1, 64], tiles: 1, blocks: 1 }, bufferBytes: 256, reads: Object.fromEntries(inputs.map((i) => [i, 128])), ...extra,
  };
}

/** One decode step of a one-layer model: embed, norm, projection, attention over a KV cache, a view, tied logits. */
const decodeModule: DataflowModule = {
  name: "llama-tiny",
  source: "models/llama-tiny.onnx",
  phase: "decode",
  bindings: { batch: 1, sequence: 1, context: 16, "past.len": 15 },
  dtype: "bf16",
  inputs: ["input_ids", "past_key_values.0.key", "past_key_values.0.value"],
  outputs: ["logits"],
  tensors: [
    { name: "input_ids", dtype: "i64", shape: [1, 1], bytes: 8, role: "input" },
    { name: "model.embed.weight", dtype: "bf16", shape: [512, 64], bytes: 65536, role: "weight" },
    { name: "/model/embed/Gather_output_0", dtype: "bf16", shape: [1, 1, 64], bytes: 128, role: "activation" },
    { name: "onnx::Mul_12", dtype: "bf16", shape: [64], bytes: 128, role: "weight" },
    { name: "hn", dtype: "bf16", shape: [1, 1, 64], bytes: 128, role: "activation" },
    { name: "wq", dtype: "bf16", shape: [64, 64], bytes: 8192, role: "weight" },
    { name: "q", dtype: "bf16", shape: [1, 1, 64], bytes: 128, role: "activation" },
    { name: "past_key_values.0.key", dtype: "bf16", shape: [1, 4, 16, 16], bytes: 2048, role: "kv-cache" },
    { name: "past_key_values.0.value", dtype: "bf16", shape: [1, 4, 16, 16], bytes: 2048, role: "kv-cache" },
    { name: "scale", dtype: "f32", shape: [], bytes: 4, role: "constant" },
    { name: "attn out", dtype: "bf16", shape: [1, 4, 1, 16], bytes: 128, role: "activation" },
    { name: "x:", dtype: "bf16", shape: [1, 1, 64], bytes: 128, role: "activation" },
    { name: "logits", dtype: "bf16", shape: [1, 1, 512], bytes: 1024, role: "output" },
    { name: "", dtype: "bf16", shape: [0], bytes: 0, role: "activation" },
  ],
  kernels: [
    kernel("k0", "gather", ["model.embed.weight", "input_ids"], ["/model/embed/Gather_output_0"], { ops: ["Gather"], flops: 0 }),
    kernel("k1", "norm", ["/model/embed/Gather_output_0", "onnx::Mul_12"], ["hn"], { ops: ["tierflow.RMSNorm"], flops: 320 }),
    kernel("k2", "matmul", ["hn", "wq"], ["q"], { ops: ["MatMul"], flops: 8192, streaming: "matmul", tiling: { tileShape: [1, 64], tiles: 4, blocks: 1 }, bufferBytes: 16640 }),
    kernel("attention.0", "attention", ["q", "past_key_values.0.key", "past_key_values.0.value", "scale"], ["attn out"], {
      ops: ["tierflow.Attention"], nodes: ['/model/"odd"\nname', "/model/layers.0/ünïcode"],
      flops: 1e21, bufferBytes: 0.1 + 0.2, reads: { q: 128, "past_key_values.0.key": 2048, "past_key_values.0.value": 2048.5, scale: 4 },
    }),
    kernel("k-view", "view", ["attn out"], ["x:"], { ops: ["Reshape"], tiling: { tileShape: [], tiles: 0, blocks: 1 }, bufferBytes: 0, reads: {} }),
    kernel("k5", "matmul", ["x:", "model.embed.weight"], ["logits"], { ops: ["MatMul"], flops: 65536, nodes: [], dtype: "f32" }),
  ],
  streams: [
    { tensor: "/model/embed/Gather_output_0", from: "k0", to: "k1", tileBytes: 128, tiles: 1 },
    { tensor: "hn", from: "k1", to: "k2", tileBytes: 32, tiles: 4 },
    { tensor: "q", from: "k2", to: "attention.0", tileBytes: 32.5, tiles: 4 },
    { tensor: "x:", from: "k-view", to: "k5", tileBytes: 128, tiles: 1 },
  ],
};

function section(name: string, kernels: string[], seconds: number): Section {
  return {
    name,
    kernels: kernels.map((k, i) => ({ kernel: k, computeUnits: 4 * (i + 1), memoryUnits: i, utilisation: 1 / (i + 1), seconds: seconds / (i + 1) })),
    initiationInterval: 1.953125e-12, computeUnits: 16, memoryUnits: 3, sramBytes: 17024,
    cost: {
      computeSeconds: seconds, hbmSeconds: 2.56e-9, ddrSeconds: 4.16e-7, sramSeconds: 1e-9, overheadSeconds: 0.000003,
      seconds: 0.000003416, bound: "overhead", hbmBytes: 8192, ddrBytes: 133184,
    },
  };
}

const decodePlan: Plan = {
  version: 1,
  model: { file: "llama-tiny.onnx", sha256: "28be0785f381756309228f21ea26f5d7650ff7dc687d8a82dedee4f8d80e2415" },
  target: "toy",
  options: { opt: 2, phase: "decode", batch: 1, seq: 16, dtype: "bf16" },
  bindings: { batch: 1, sequence: 1, context: 16, "past.len": 15 },
  fusion: { "tierflow.Attention": 1, "tierflow.RMSNorm": 1 },
  dataflow: decodeModule,
  sections: [section("s0", ["k0", "k1", "k2"], 5e-324), section("s1", ["attention.0", "k-view", "k5"], 1.7976931348623157e308)],
  allocations: [
    { tensor: "model.embed.weight", tier: "ddr", offset: 0, bytes: 65536, firstSection: 0, lastSection: 1 },
    { tensor: "wq", tier: "hbm", offset: 0, bytes: 8192, firstSection: 0, lastSection: 1 },
    { tensor: "past_key_values.0.key", tier: "hbm", offset: 8192, bytes: 2048, firstSection: 1, lastSection: 1 },
    { tensor: "past_key_values.0.value", tier: "hbm", offset: 10240, bytes: 2048, firstSection: 1, lastSection: 1 },
    { tensor: "hn", tier: "sram", offset: 0, bytes: 128, firstSection: 0, lastSection: 0 },
    { tensor: "x:", tier: "sram", offset: 9007199254740991, bytes: 128, firstSection: 1, lastSection: 1 },
  ],
  transfers: [
    { tensor: "model.embed.weight", from: "host", to: "ddr", bytes: 65536, beforeSection: -1, seconds: 0.0000065536 },
    { tensor: "wq", from: "ddr", to: "hbm", bytes: 8192, beforeSection: -1, seconds: 8.192e-7 },
    { tensor: "past_key_values.0.key", from: "hbm", to: "sram", bytes: 2048, beforeSection: 1, seconds: 2.048e-10 },
  ],
  occupancy: { sram: 17024, hbm: 12288, ddr: 65536 },
  prediction: { seconds: 0.0005135211800000004, tokensPerSecond: 1947.3393483010752, floorSeconds: 0.00000557572, floorBound: "weights", ratioToFloor: 92.09952795334063 },
};

function roundTripDataflow(m: DataflowModule): string {
  const text = printDataflow(m);
  const parsed = parseDataflow(text);
  expect(printDataflow(parsed)).toBe(text);
  expect(parsed).toStrictEqual(m);
  return text;
}

function roundTripPlacement(p: Plan): string {
  const text = printPlacement(p);
  const parsed = parsePlacement(text);
  expect(printPlacement(parsed)).toBe(text);
  expect(parsed).toStrictEqual(p);
  return text;
}

function errorOf(step: () => unknown): string {
  try {
    step();
  } catch (err) {
    if (err instanceof TierflowError) return err.format();
    throw err;
  }
  throw new Error("expected a TierflowError");
}

describe("dataflow text", () => {
  it("round-trips a hand-built decode module exactly", () => {
    roundTripDataflow(decodeModule);
  });

  it("lays statements out as docs/IR-TEXT.md shows", () => {
    const lines = printDataflow(decodeModule).split("\n");
    expect(lines[0]).toBe("// tierflow dataflow IR");
    expect(lines[1]).toBe('dataflow @"llama-tiny" {source = "models/llama-tiny.onnx", phase = "decode", dtype = "bf16"} {');
    expect(lines[2]).toBe('  bindings {batch = 1, sequence = 1, context = 16, "past.len" = 15}');
    expect(lines).toContain('  inputs (%input_ids, %past_key_values.0.key, %past_key_values.0.value)');
    expect(lines).toContain('  tensor %past_key_values.0.key: bf16[1, 4, 16, 16] {role = "kv-cache", bytes = 2048}');
    expect(lines).toContain('  tensor %scale: f32[] {role = "constant", bytes = 4}');
    expect(lines).toContain(
      '  kernel @k2 "matmul" (%hn, %wq) -> (%q) {dtype = "bf16", flops = 8192, streaming = "matmul", tile = [1, 64], tiles = 4, blocks = 1, buffer_bytes = 16640, reads = {%hn = 128, %wq = 128}, ops = ["MatMul"], nodes = ["/model/k2"]}',
    );
    expect(lines).toContain('  stream %q @k2 -> @"attention.0" {tile_bytes = 32.5, tiles = 4}');
    expect(lines.at(-2)).toBe("}");
  });

  it("quotes names that would not read back bare and escapes strings as JSON", () => {
    const text = roundTripDataflow(decodeModule);
    expect(text).toContain('kernel @"attention.0" "attention"');
    expect(text).toContain('@"k-view" "view" (%"attn out") -> (%"x:")');
    expect(text).toContain('tensor %"": bf16[0]');
    expect(text).toContain("%onnx::Mul_12");
    expect(text).toContain("%/model/embed/Gather_output_0");
    expect(text).toContain('nodes = ["/model/\\"odd\\"\\nname", "/model/layers.0/ünïcode"]');
  });

  it("prints numbers as String(n) and reads back the same doubles", () => {
    const text = roundTripDataflow(decodeModule);
    expect(text).toContain("flops = 1e+21");
    expect(text).toContain("buffer_bytes = 0.30000000000000004");
    expect(text).toContain("%past_key_values.0.value = 2048.5");
  });

  it("reads the example in docs/IR-TEXT.md back as printed", () => {
    const doc = readFileSync(new URL("../../docs/IR-TEXT.md", import.meta.url), "utf8");
    const example = /```\n(\/\/ tierflow dataflow IR\n[\s\S]*?)```/.exec(doc)![1]!;
    const m = parseDataflow(example, "IR-TEXT.md");
    expect(m.kernels.map((k) => k.kind)).toEqual(["matmul", "view"]);
    expect(printDataflow(m)).toBe(example);
  });

  it("round-trips an empty module", () => {
    const empty: DataflowModule = { ...decodeModule, bindings: {}, inputs: [], outputs: [], tensors: [], kernels: [], streams: [] };
    expect(roundTripDataflow(empty)).toContain("  bindings {}\n  inputs ()\n  outputs ()\n}");
  });

  it("refuses numbers with no textual form, naming the attribute", () => {
    const withFlops = (flops: number): DataflowModule => ({ ...decodeModule, kernels: [kernel("k0", "matmul", [], [], { flops })] });
    expect(errorOf(() => printDataflow(withFlops(NaN)))).toBe(
      "cannot print kernel @k0 attribute 'flops': NaN has no textual form (only finite numbers other than -0)",
    );
    expect(errorOf(() => printDataflow(withFlops(Infinity)))).toContain("Infinity has no textual form");
    expect(errorOf(() => printDataflow(withFlops(-0)))).toContain("-0 has no textual form");
    const fractionalTiles = { ...decodeModule, kernels: [kernel("k0", "matmul", [], [], { tiling: { tileShape: [1], tiles: 1.5, blocks: 1 } })] };
    expect(errorOf(() => printDataflow(fractionalTiles))).toBe("cannot print kernel @k0 attribute 'tiles': 1.5 is not an integer");
  });
});

describe("placement text", () => {
  it("round-trips a hand-built plan with every tier, transfers and the embedded module", () => {
    const text = roundTripPlacement(decodePlan);
    const lines = text.split("\n");
    expect(lines[1]).toBe('placement {version = 1, target = "toy"} {');
    expect(lines).toContain('  options {opt = 2, phase = "decode", batch = 1, seq = 16, dtype = "bf16"}');
    expect(lines).toContain('  fusion {"tierflow.Attention" = 1, "tierflow.RMSNorm" = 1}');
    expect(lines).toContain('  dataflow @"llama-tiny" {source = "models/llama-tiny.onnx", phase = "decode", dtype = "bf16"} {');
    expect(lines).toContain('    tensor %hn: bf16[1, 1, 64] {role = "activation", bytes = 128}');
    expect(lines).toContain("  section @s1 {initiation_interval = 1.953125e-12, compute_units = 16, memory_units = 3, sram_bytes = 17024} {");
    expect(lines).toContain('    kernel @"k-view" {compute_units = 8, memory_units = 1, utilisation = 0.5, seconds = 8.988465674311579e+307}');
    expect(lines).toContain('  alloc %"x:" {tier = "sram", offset = 9007199254740991, bytes = 128, live = [1, 1]}');
    expect(lines).toContain('  transfer %model.embed.weight {from = "host", to = "ddr", bytes = 65536, before_section = -1, seconds = 0.0000065536}');
    expect(lines).toContain("  occupancy {sram = 17024, hbm = 12288, ddr = 65536}");
  });

  it("round-trips a plan with no sections, allocations or transfers", () => {
    roundTripPlacement({ ...decodePlan, fusion: {}, sections: [], allocations: [], transfers: [] });
  });

  it("round-trips plans compiled from a real model without fusion", async () => {
    for (const phase of ["prefill", "decode"] as const) {
      const { plan } = await compile("examples/models/llama-tiny.torchscript.onnx", { target: "toy", opt: 0, phase, batch: 1, seq: 8 });
      roundTripPlacement(plan);
      roundTripDataflow(plan.dataflow);
    }
  });

  it("round-trips a fused decode plan (attention kernels, fusion counts)", async () => {
    const { plan } = await compile("examples/models/llama-tiny.torchscript.onnx", { target: "toy", opt: 2, phase: "decode", batch: 2, seq: 8 });
    expect(plan.dataflow.kernels.some((k) => k.kind === "attention")).toBe(true);
    const text = roundTripPlacement(plan);
    expect(text).toContain('"tierflow.Attention" = ');
  });
});

/** A small valid dataflow text; the error tests edit one line of it. */
const SMALL = [
  "// tierflow dataflow IR",
  'dataflow @m {source = "m.onnx", phase = "prefill", dtype = "f32"} {',
  "  bindings {batch = 1}",
  "  inputs (%x)",
  "  outputs (%y)",
  "",
  '  tensor %x: f32[2] {role = "input", bytes = 8}',
  '  tensor %y: f32[2] {role = "output", bytes = 8}',
  "",
  '  kernel @k0 "elementwise" (%x) -> (%y) {dtype = "f32", flops = 2, streaming = "columns", tile = [2], tiles = 1, blocks = 1, buffer_bytes = 16, reads = {%x = 8}, ops = ["Relu"], nodes = ["relu"]}',
  "}",
  "",
];

function edited(line: number, from: string, to: string): string {
  const lines = [...SMALL];
  expect(lines[line - 1]).toContain(from);
  lines[line - 1] = lines[line - 1]!.replace(from, to);
  return lines.join("\n");
}

describe("parse errors", () => {
  it("accepts the unedited text", () => {
    expect(printDataflow(parseDataflow(SMALL.join("\n")))).toBe(SMALL.join("\n"));
  });

  it.each<[string, number, string, string, string]>([
    ["a missing comma", 7, '"input", bytes', '"input" bytes', "m.tfd:7:37: expected ',' or '}' but found 'bytes'"],
    ["a missing value", 3, "batch = 1", "batch = }", "m.tfd:3:21: expected a value (number, string, reference, list or dict) but found '}'"],
    ["a missing '->'", 10, "(%x) -> (%y)", "(%x) (%y)", "m.tfd:10:33: expected '->' but found '('"],
    ["a missing kernel kind", 10, '"elementwise" ', "", "m.tfd:10:14: expected the kernel's kind (a string) but found '('"],
    ["a type without its dtype", 7, "f32[2]", "[2]", "m.tfd:7:14: expected a name but found '['"],
    ["an unknown dtype", 7, "f32[2]", "f33[2]", "m.tfd:7:14: unknown dtype 'f33'"],
    ["an unknown role", 7, '"input"', '"scratch"', "m.tfd:7:29: unknown role 'scratch' (expected input, output, weight, constant, activation or kv-cache)"],
    ["a missing attribute", 8, ", bytes = 8", "", "m.tfd:8:3: tensor %y is missing attribute 'bytes'"],
    ["an unknown attribute", 8, "bytes", "size", "m.tfd:8:39: unknown attribute 'size' of tensor %y (expected role or bytes)"],
    ["a repeated attribute", 8, "bytes = 8", 'bytes = 8, role = "input"', "m.tfd:8:50: attribute 'role' of tensor %y is given twice"],
    ["a tensor defined twice", 8, "%y:", "%x:", "m.tfd:8:10: tensor %x is defined twice"],
    ["a fractional integer", 8, "bytes = 8", "bytes = 8.5", "m.tfd:8:47: expected an integer but found '8.5'"],
    ["a read keyed by a name", 10, "reads = {%x = 8}", "reads = {x = 8}", "m.tfd:10:154: expected a tensor name (%name) but found 'x'"],
    ["an unknown statement", 5, "outputs", "result", "m.tfd:5:3: expected bindings, inputs, outputs, tensor, kernel or stream but found 'result'"],
    ["a statement given twice", 4, "inputs (%x)", "inputs (%x) inputs (%x)", "m.tfd:4:15: 'inputs' is given twice in dataflow @m"],
    ["an attribute dictionary without '='", 7, 'role = "input", bytes = 8', 'role "input"', "m.tfd:7:21: expected attributes {key = value, ...} but found a block ('tensor' takes no block)"],
    ["an unterminated string", 10, '"relu"]', '"relu]', "m.tfd:10:188: unterminated string"],
    ["a stray character", 3, "batch", "#batch", "m.tfd:3:13: unexpected character '#'"],
    ["a missing closing brace", 11, "}", "", "m.tfd:10:196: expected a statement or '}' but found end of input"],
  ])("reports %s at line:column", (_what, line, from, to, message) => {
    expect(errorOf(() => parseDataflow(edited(line, from, to), "m.tfd"))).toBe(message);
  });

  it("names the level a text is not", () => {
    expect(errorOf(() => parseDataflow(printPlacement(decodePlan), "p.tfp"))).toBe("p.tfp:2:1: expected 'dataflow' but found 'placement'");
    expect(errorOf(() => parsePlacement("// nothing\n"))).toBe("1:1: expected 'placement' but found end of input");
  });

  it("reports placement-level problems at the token", () => {
    const text = printPlacement(decodePlan);
    const lines = text.split("\n");
    const at = (needle: string): number => lines.findIndex((l) => l.includes(needle)) + 1;
    const swap = (from: string, to: string): string => text.replace(from, to);
    const alloc = at('alloc %wq {tier = "hbm"');
    expect(errorOf(() => parsePlacement(swap('%wq {tier = "hbm"', '%wq {tier = "l3"')))).toBe(
      `${alloc}:21: unknown tier 'l3' (expected sram, hbm or ddr)`,
    );
    const transfer = at("transfer %model.embed.weight");
    expect(errorOf(() => parsePlacement(swap('{from = "host"', '{from = "disk"')))).toBe(
      `${transfer}:40: unknown tier 'disk' (expected host, sram, hbm or ddr)`,
    );
    expect(errorOf(() => parsePlacement(swap("live = [0, 1]}", "live = [0]}")))).toMatch(/^\d+:\d+: expected a list of 2 elements but found 1$/);
    expect(errorOf(() => parsePlacement(swap("{opt = 2,", "{opt = 3,")))).toBe(`${at("options {")}:18: unknown optimisation level 3 (expected 0, 1 or 2)`);
    expect(errorOf(() => parsePlacement(swap("section @s1", "section @s0")))).toBe(`${at("section @s1")}:11: section @s0 is defined twice`);
    const withoutCost = text.replace(/\n {4}cost \{[^\n]*\}/, "");
    expect(errorOf(() => parsePlacement(withoutCost))).toBe(`${at("section @s0")}:3: section @s0 has no 'cost' statement`);
    expect(errorOf(() => parsePlacement(text.replace(/\n {2}occupancy \{[^\n]*\}/, "")))).toBe("2:1: placement has no 'occupancy' statement");
  });
});
