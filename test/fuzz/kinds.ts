// The input kinds the fuzzer feeds tierflow, each with its seed corpus (real
// example models and a real compiled plan), a generator of mutated inputs and
// the parser + verifier entry points that must accept or diagnose them.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeModel, encodeModel, onnx } from "../../compiler/onnx/proto.js";
import type { ModelProto, NodeProto, TensorProto } from "../../compiler/onnx/proto.js";
import { importModelProto } from "../../compiler/onnx/import.js";
import { verifyModule } from "../../ir/graph/verifier.js";
import { DEFAULT_PIPELINE, runPipeline } from "../../compiler/passes/pipeline.js";
import { printModule } from "../../ir/graph/printer.js";
import { parseGraphText } from "../../compiler/parse-text.js";
import { compile } from "../../compiler/compile.js";
import { planToJson, readPlan } from "../../compiler/plan-json.js";
import { parseDataflow, printDataflow } from "../../ir/dataflow/text.js";
import { verifyDataflow } from "../../ir/dataflow/verify.js";
import { parsePlacement, printPlacement } from "../../ir/placement/text.js";
import { verifyPlan } from "../../ir/placement/verify.js";
import { loadTarget, validateTarget } from "../../targets/target.js";
import type { Target } from "../../targets/target.js";
import { decodeTensor, encodeTensor } from "../../compiler/tensor-files.js";
import type { TensorFormat } from "../../compiler/tensor-files.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { Rng, mutateBytes, mutateJson, mutateText } from "./harness.js";
import type { FuzzOptions } from "./harness.js";
import { editOnnxHostile, hostileTarget, oversizeDense } from "./hostile.js";
import { checkManifest, checkPlanModel, hostileManifest, hostilePlanModel, manifestFolder, planFolder } from "./escapes.js";
import { nonRegularFilesKind } from "./files.js";
export { nonRegularFilesKind };

export const ROOT = join(import.meta.dirname, "..", "..");
const MODELS = join(ROOT, "examples", "models");
/** The smaller example models: mutation cost grows with the file. */
export const SEED_MODELS = ["llama-tiny.torchscript.onnx", "bert-tiny.torchscript.onnx", "gpt2-tiny.torchscript.onnx", "llama-tiny.dynamo.onnx"];

export interface Corpus {
  readonly dir: string;
  readonly models: readonly { name: string; bytes: Uint8Array }[];
  readonly graphText: string;
  readonly dataflowText: string;
  readonly placementText: string;
  readonly planJson: unknown;
  readonly target: unknown;
  readonly tensorFiles: readonly { format: TensorFormat; bytes: Uint8Array }[];
}

/** Build the seed corpus once: a compile of llama-tiny for the toy target gives the lower levels. */
export async function buildCorpus(): Promise<Corpus> {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-fuzz-"));
  mkdirSync(join(dir, "model"));
  const models = SEED_MODELS.map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(MODELS, name))) }));
  const result = await compile(join(MODELS, "llama-tiny.torchscript.onnx"), { target: "toy", opt: 2, phase: "decode", seq: 16 });
  const t = (dtype: "f32" | "i64" | "bool", dims: number[], values: number[]) => tensorFromValues(dtype, dims, values);
  const tensors = [t("f32", [2, 3], [1, 2, 3, 4, 5, 6]), t("i64", [4], [1, -2, 3, 4]), t("bool", [2], [1, 0]), t("f32", [], [7])];
  const tensorFiles = tensors.flatMap((x) => (["npy", "pb", "json"] as const).map((format) => ({ format, bytes: encodeTensor(x, format, "x") })));
  return {
    dir, models, graphText: printModule(result.graph), dataflowText: printDataflow(result.dataflow),
    placementText: printPlacement(result.plan), planJson: JSON.parse(planToJson(result.plan)),
    target: JSON.parse(readFileSync(join(ROOT, "targets", "presets", "toy.json"), "utf8")), tensorFiles,
  };
}

type Kind<I> = Pick<FuzzOptions<I>, "kind" | "generate" | "check"> & { readonly caseLimitMs?: number };

function importAndPipeline(bytes: Uint8Array, dir: string): void {
  const model = decodeModel(bytes, "fuzz.onnx");
  const module = importModelProto(model, bytes, { modelDir: dir, modelFile: "fuzz.onnx" });
  verifyModule(module);
  runPipeline(module, DEFAULT_PIPELINE);
}

// ---- ONNX bytes -------------------------------------------------------------

export function onnxBytesKind(c: Corpus): Kind<Uint8Array> {
  return {
    kind: "onnx-bytes",
    generate: (rng) => mutateBytes(rng, rng.pick(c.models).bytes),
    check: (bytes) => importAndPipeline(bytes, join(c.dir, "model")),
  };
}

// ---- ONNX structure: decode, edit the ModelProto, re-encode -----------------

const HUGE = [1e9, 2 ** 31, 2 ** 40, 2 ** 53 - 1, -1, -(2 ** 40), 0];

function edit(rng: Rng, m: ModelProto): string {
  const g = m.graph!;
  const nodes = g.node ?? [], inits = g.initializer ?? [];
  const anyNode = (): NodeProto | undefined => (nodes.length ? rng.pick(nodes) : undefined);
  const anyInit = (): TensorProto | undefined => (inits.length ? rng.pick(inits) : undefined);
  const values = [...nodes.flatMap((n) => n.output ?? []), ...(g.input ?? []).map((i) => i.name ?? ""), ...inits.map((i) => i.name ?? "")];
  switch (rng.int(16)) {
    case 0: { // an initializer declaring a huge shape with no data
      const t = anyInit();
      if (t) { t.dims = [rng.pick(HUGE), ...(rng.chance(0.5) ? [rng.pick(HUGE)] : [])]; t.rawData = new Uint8Array(0); t.floatData = []; t.int64Data = []; }
      return "huge initializer dims";
    }
    case 1: { // external data with hostile offsets, lengths and locations
      const t = anyInit();
      if (t) {
        t.dataLocation = 1; t.rawData = new Uint8Array(0);
        t.externalData = [
          { key: "location", value: rng.pick(["w.bin", "../outside.bin", "/etc/passwd", "C:\\w.bin", "a/../../b", "", "x\u0000y", "\\\\srv\\share"]) },
          { key: "offset", value: rng.pick(["-8", "0", "18446744073709551616", "1e3", "abc", "4096"]) },
          { key: "length", value: rng.pick(["-1", "0", "99999999999999999999", "24"]) },
        ];
      }
      return "hostile external data";
    }
    case 2: { // duplicate a name (initializer, node output or graph input)
      const n = anyNode();
      if (n && values.length) (n.output ?? [])[0] = rng.pick(values);
      else if (inits.length) inits.push(inits[0]!);
      return "duplicate name";
    }
    case 3: { // a cycle: an early node reads a later node's output
      if (nodes.length > 2) {
        const i = rng.int(nodes.length - 1), j = i + 1 + rng.int(nodes.length - i - 1);
        const early = nodes[i]!, late = nodes[j]!;
        if ((early.input ?? []).length && (late.output ?? []).length) early.input![0] = late.output![0]!;
      }
      return "cycle";
    }
    case 4: { // a dangling input
      const n = anyNode();
      if (n) n.input = [...(n.input ?? []), "ghost"];
      return "dangling input";
    }
    case 5: { // a node removed
      if (nodes.length) nodes.splice(rng.int(nodes.length), 1);
      return "node removed";
    }
    case 6: { // an op changed to another op of the model
      const n = anyNode(), other = anyNode();
      if (n && other) n.opType = other.opType ?? "";
      return "op changed";
    }
    case 7: { // an attribute set to a hostile value or type
      const n = anyNode();
      const a = n?.attribute?.length ? rng.pick(n.attribute) : undefined;
      if (a) {
        const v = rng.pick(HUGE);
        rng.pick([() => { a.i = v; }, () => { a.ints = [v, v]; }, () => { a.type = rng.int(16); }, () => { a.f = NaN; },
          () => { a.t = { dims: [v], dataType: 1 }; }, () => { a.s = new Uint8Array(3); }])();
      }
      return "attribute";
    }
    case 8: { // a graph input dim made huge, negative or a deep expression
      const i = g.input?.length ? rng.pick(g.input) : undefined;
      const d = i?.type?.tensorType?.shape?.dim;
      if (d?.length) {
        const dim = rng.pick(d);
        if (rng.chance(0.5)) { dim.dimValue = rng.pick(HUGE); dim.dimParam = ""; }
        else dim.dimParam = rng.pick(["(".repeat(5000) + "a" + ")".repeat(5000), "a*".repeat(3000) + "b", "-".repeat(10000) + "1", "9999999999999999999*s", "s/0", "s%0"]);
      }
      return "input dim";
    }
    case 9: { // the data type of a tensor changed
      const t = anyInit();
      if (t) t.dataType = rng.int(30);
      return "dtype";
    }
    case 10: { // raw data truncated or padded
      const t = anyInit();
      if (t?.rawData?.length) t.rawData = t.rawData.slice(0, rng.int(t.rawData.length + 8));
      return "raw data length";
    }
    case 11: { // opsets out of range
      m.opsetImport = [{ domain: "", version: rng.pick([0, 1, 12, 13, 99, 2 ** 40]) }, ...(rng.chance(0.5) ? [{ domain: "ai.onnx", version: 7 }] : [])];
      return "opset";
    }
    case 12: { // recursive or exponentially expanding local functions
      const fan = rng.pick([1, 2, 8]);
      m.opsetImport = [...(m.opsetImport ?? []), { domain: "local", version: 1 }];
      m.functions = [{
        name: "F", domain: "local", input: ["a"], output: ["b"], opsetImport: m.opsetImport,
        node: Array.from({ length: fan }, (_, k) => ({ opType: "F", domain: "local", input: ["a"], output: [k === fan - 1 ? "b" : `t${k}`] })),
      }];
      const n = anyNode();
      if (n) { n.opType = "F"; n.domain = "local"; }
      return "recursive function";
    }
    case 13: { // graph outputs renamed or duplicated
      const o = g.output ?? [];
      if (o.length) o.push(rng.chance(0.5) ? o[0]! : { name: "nowhere" });
      return "outputs";
    }
    case 14: { // many empty or nameless nodes
      for (let k = 0; k < 5; k++) nodes.push({ opType: rng.pick(["", "Relu", "Add", "If", "Loop", "Unknown"]), input: [], output: [""] });
      return "empty nodes";
    }
    default: { // a node's inputs reversed or emptied
      const n = anyNode();
      if (n) n.input = rng.chance(0.5) ? [...(n.input ?? [])].reverse() : [];
      return "inputs";
    }
  }
}

export function onnxStructureKind(c: Corpus): Kind<Uint8Array> {
  const decoded = c.models.map((m) => ({ ...m, model: decodeModel(m.bytes, m.name) }));
  return {
    kind: "onnx-structure",
    generate: (rng) => {
      const seed = rng.pick(decoded);
      const m = onnx.ModelProto.decode(seed.bytes) as ModelProto;
      for (let s = 1 + rng.int(2); s > 0; s--) {
        if (rng.chance(0.3)) editOnnxHostile(rng, m);
        else edit(rng, m);
      }
      return encodeModel(m);
    },
    check: (bytes) => importAndPipeline(bytes, join(c.dir, "model")),
  };
}

// ---- IR text at each level --------------------------------------------------

export function graphTextKind(c: Corpus): Kind<string> {
  return {
    kind: "graph-text",
    generate: (rng) => (rng.chance(0.15) ? oversizeDense(rng, c.graphText) : mutateText(rng, c.graphText)),
    check: (text) => {
      const module = parseGraphText(text, "fuzz.tfg");
      verifyModule(module);
      runPipeline(module, DEFAULT_PIPELINE);
    },
  };
}

export function dataflowTextKind(c: Corpus): Kind<string> {
  return {
    kind: "dataflow-text",
    generate: (rng) => mutateText(rng, c.dataflowText),
    check: (text) => verifyDataflow(parseDataflow(text, "fuzz.tfd")),
  };
}

export function placementTextKind(c: Corpus): Kind<string> {
  const target = loadTarget("toy");
  return {
    kind: "placement-text",
    generate: (rng) => mutateText(rng, c.placementText),
    check: (text) => verifyPlan(parsePlacement(text, "fuzz.tfp"), target),
  };
}

// ---- JSON documents ---------------------------------------------------------

/**
 * A mutated plan must be refused or read; one whose model fields were made
 * hostile is opened as `run` opens it, and must be refused without reading
 * outside its folder (escapes.ts).
 */
export function planJsonKind(c: Corpus): Kind<{ text: string; model: boolean }> {
  const path = join(c.dir, "plan.json");
  const folder = planFolder(mkdtempSync(join(c.dir, "plan-model-")));
  return {
    kind: "plan-json",
    generate: (rng) => {
      if (rng.chance(0.15)) return { text: JSON.stringify(hostilePlanModel(rng, c.planJson, folder)), model: true };
      const text = rng.chance(0.8) ? JSON.stringify(mutateJson(rng, c.planJson as never)) : mutateText(rng, JSON.stringify(c.planJson, null, 1));
      return { text, model: false };
    },
    check: async ({ text, model }) => {
      if (model) return checkPlanModel(text, folder);
      writeFileSync(path, text);
      readPlan(path);
    },
  };
}

/** A mutated target must be refused or compile a small model (no division by zero turned into a hang or a crash). */
export function targetKind(c: Corpus): Kind<{ text: string; parallel: boolean }> {
  return {
    kind: "target",
    caseLimitMs: 5000,
    generate: (rng) => {
      if (rng.chance(0.3)) { // hostile figures, sometimes a node of sockets planned with --parallel auto
        const { target, parallel } = hostileTarget(rng, c.target);
        return { text: JSON.stringify(target), parallel };
      }
      return { text: rng.chance(0.85) ? JSON.stringify(mutateJson(rng, c.target as never)) : mutateText(rng, JSON.stringify(c.target)), parallel: false };
    },
    check: async ({ text, parallel }) => {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return; // readJsonFile's diagnostic; not what this kind exercises
      }
      const target: Target = validateTarget(json, "fuzz-target.json");
      await compile(join(MODELS, "llama-tiny.torchscript.onnx"), { target, opt: 2, phase: "decode", seq: 8, ...(parallel ? { parallel: "auto" } : {}) });
    },
  };
}

export function tensorFileKind(c: Corpus): Kind<{ format: TensorFormat; bytes: Uint8Array }> {
  return {
    kind: "tensor-file",
    generate: (rng) => {
      const seed = rng.pick(c.tensorFiles);
      if (seed.format === "json" && rng.chance(0.6)) {
        const doc = JSON.parse(new TextDecoder().decode(seed.bytes)) as never;
        return { format: seed.format, bytes: new TextEncoder().encode(JSON.stringify(mutateJson(rng, doc))) };
      }
      if (seed.format === "npy" && rng.chance(0.4)) { // a header declaring a huge or odd shape
        const text = new TextDecoder("latin1").decode(seed.bytes);
        const shape = rng.pick(["(1000000000,)", "(4294967296, 4294967296)", "(-1,)", "(" + "1, ".repeat(5000) + ")", "()", "(3L,)", "(99999999999999999999,)"]);
        return { format: seed.format, bytes: Uint8Array.from(text.replace(/\([^)]*\)/, shape), (ch) => ch.charCodeAt(0) & 0xff) };
      }
      return { format: seed.format, bytes: mutateBytes(rng, seed.bytes) };
    },
    check: ({ format, bytes }) => { decodeTensor(bytes, format, { dtype: "f32" }); },
  };
}

/**
 * A mutated CoE manifest, in a folder of its own, must be refused or read, and
 * every path it resolves (its target file's included) must lie inside that
 * folder; one with hostile targets, routes, shares and paths too (escapes.ts).
 */
export function manifestKind(c: Corpus): Kind<string> {
  const manifest = JSON.parse(readFileSync(join(ROOT, "examples", "coe", "coe.json"), "utf8")) as unknown;
  const folder = manifestFolder(mkdtempSync(join(c.dir, "manifest-")), join(ROOT, "targets", "presets", "toy.json"));
  return {
    kind: "coe-manifest",
    generate: (rng) => {
      if (rng.chance(0.35)) return JSON.stringify(hostileManifest(rng, manifest, folder));
      return rng.chance(0.85) ? JSON.stringify(mutateJson(rng, manifest as never)) : mutateText(rng, JSON.stringify(manifest));
    },
    check: (text) => {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return; // readJsonFile's diagnostic; not what this kind exercises
      }
      checkManifest(json, folder, text);
    },
  };
}

export async function allKinds(c: Corpus): Promise<Kind<never>[]> {
  return [onnxBytesKind(c), onnxStructureKind(c), graphTextKind(c), dataflowTextKind(c), placementTextKind(c),
    planJsonKind(c), targetKind(c), tensorFileKind(c), manifestKind(c), nonRegularFilesKind(c)] as unknown as Kind<never>[];
}
