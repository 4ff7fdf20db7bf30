// `tierflow run PLAN.json` as a user runs it: the outputs equal the model's
// own run, the trace is Chrome trace-event JSON with a named track per tier
// and per section, spans carrying predicted and measured times, and occupancy
// counters; and a plan that cannot be trusted is refused with one line, exit
// status 1 and nothing written.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../../ir/placement/plan.js";
import { DTYPES } from "../../ir/dtype.js";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import { traceSpans } from "../../compiler/viz/trace.js";
import { readTensorFile } from "../../compiler/tensor-files.js";
import type { ChromeTrace, TraceEvent } from "../../targets/runtime/trace.js";
import { PID } from "../../targets/runtime/trace.js";
import { ROOT, expectDiagnostic, runCli } from "../support/cli.js";
import type { Writable } from "./support.js";
import { MODELS_DIR } from "./support.js";

const MODEL = join(MODELS_DIR, "llama-tiny.dynamo.onnx");
let dir: string, planPath: string, idsPath: string, plan: Plan;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-run-plan-"));
  ({ plan } = await compile(MODEL, { target: "toy", opt: 2, batch: 1, seq: 5 }));
  planPath = join(dir, "plan.json");
  writeFileSync(planPath, planToJson(plan));
  idsPath = join(dir, "ids.json");
  writeFileSync(idsPath, "[[3, 141, 59, 265, 358]]");
});

describe("tierflow run PLAN.json", () => {
  it("computes the model's outputs and writes a trace Perfetto opens", () => {
    const out = join(dir, "out"), tracePath = join(dir, "trace", "run.json");
    const r = runCli(["run", planPath, "--input", `input_ids=${idsPath}`, "--model", MODEL, "--output", out, "--timeline", tracePath, "--profile"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^section times \(predicted .* on the target, measured .* on the CPU\):$/m);
    const direct = runCli(["run", MODEL, "--input", `input_ids=${idsPath}`, "--output", join(dir, "direct")]);
    expect(direct.code, direct.stderr).toBe(0);
    const a = readTensorFile(join(out, "logits.npy")), b = readTensorFile(join(dir, "direct", "logits.npy"));
    expect(a.dims).toEqual([1, 5, 512]);
    expect(Array.from(a.data as Float32Array)).toEqual(Array.from(b.data as Float32Array));

    const trace = JSON.parse(readFileSync(tracePath, "utf8")) as ChromeTrace;
    const events = trace.traceEvents;
    expect(new Set(events.map((e) => e.pid))).toEqual(new Set([PID]));
    const of = (ph: string) => events.filter((e) => e.ph === ph);
    const tracks = new Map(of("M").filter((e) => e.name === "thread_name").map((e) => [e.tid, (e.args as { name: string }).name]));
    const tid = (name: string) => [...tracks].find(([, n]) => n === name)?.[0];
    expect(of("M").some((e) => e.name === "process_name")).toBe(true);
    expect([...tracks.values()]).toEqual(expect.arrayContaining(["tier sram", "tier hbm", "tier ddr", "host", ...plan.sections.map((s) => `section ${s.name}`)]));
    const spans = of("X");
    for (const e of spans) {
      expect(tracks.has(e.tid), `${e.name} on an unnamed track`).toBe(true);
      expect(e.dur!).toBeGreaterThanOrEqual(0);
    }
    // Each section's span is on its own track with the plan's prediction; its kernels lie inside it.
    for (const s of plan.sections) {
      const span = spans.find((e) => e.cat === "section" && e.tid === tid(`section ${s.name}`))!;
      const args = span.args as { predicted_us: number; measured_us: number };
      expect(args.predicted_us).toBeCloseTo(s.cost.seconds * 1e6, 6);
      expect(args.measured_us).toBeGreaterThan(0);
      for (const ka of s.kernels) {
        const k = spans.find((e) => e.cat === "kernel" && (e.args as { kernel: string }).kernel === ka.kernel)!;
        expect((k.args as { section: string }).section).toBe(s.name);
        expect((k.args as { predicted_us: number }).predicted_us).toBeCloseTo(ka.seconds * 1e6, 6);
        expect(k.tid).toBe(span.tid);
        expect(k.ts!).toBeGreaterThanOrEqual(span.ts!);
        expect(k.ts! + k.dur!).toBeLessThanOrEqual(span.ts! + span.dur! + 1e-3);
      }
    }
    // Transfers go on the track of the tier they move into, with the plan's prediction.
    plan.transfers.forEach((t, i) => {
      const e = spans.find((x) => x.cat === "transfer" && (x.args as { transfer: number }).transfer === i)!;
      expect(e.tid).toBe(tid(`tier ${t.to}`));
      expect((e.args as { predicted_us: number }).predicted_us).toBeCloseTo(t.seconds * 1e6, 6);
    });
    expect(spans.filter((e) => e.cat === "load").every((e) => e.tid === tid("tier ddr"))).toBe(true);
    // Occupancy counters: each tier rises above zero, stays within the target, ends empty; the plan's per section beside them.
    const counter = (name: string) => of("C").filter((e: TraceEvent) => e.name === name).map((e) => (e.args as { bytes: number }).bytes);
    for (const [tier, capacity] of [["sram", 16 * 16384], ["hbm", 262144], ["ddr", 67108864]] as const) {
      const values = counter(`${tier} occupancy`);
      expect(Math.max(...values), tier).toBeGreaterThan(0);
      expect(Math.max(...values), tier).toBeLessThanOrEqual(capacity);
      expect(values[values.length - 1], tier).toBe(0);
      expect(counter(`${tier} occupancy (plan)`)).toHaveLength(plan.sections.length);
    }
    // The plan visualiser reads the same trace: every section and kernel is recognised.
    const seen = traceSpans(trace, plan);
    expect(new Set(seen.flatMap((s) => (s.section !== undefined ? [s.section] : []))).size).toBe(plan.sections.length);
    expect(new Set(seen.flatMap((s) => (s.kernel !== undefined ? [s.kernel] : []))).size).toBe(plan.dataflow.kernels.length);
  });

  it("refuses a model file other than the one the plan was compiled from", () => {
    const out = join(dir, "wrong-model");
    expectDiagnostic(["run", planPath, "--input", `input_ids=${idsPath}`, "--model", join(MODELS_DIR, "llama-tiny.torchscript.onnx"), "--output", out],
      /plan\.json: the plan was compiled from a model file with sha256 [0-9a-f]{16}\.\.\. \('llama-tiny\.dynamo\.onnx'\), but '.*llama-tiny\.torchscript\.onnx' has sha256/, [out]);
  });

  it("refuses a plan from a newer tierflow and one that fails verification", () => {
    const newer = join(dir, "newer.json"), broken = join(dir, "broken.json"), trace = join(dir, "t.json");
    writeFileSync(newer, JSON.stringify({ ...plan, version: plan.version + 1 }));
    expectDiagnostic(["run", newer, "--input", `input_ids=${idsPath}`, "--model", MODEL, "--timeline", trace], /newer\.json: plan has schema version \d+; this tierflow reads version \d+/, [trace]);
    const overfull = structuredClone(plan) as Writable<Plan>;
    overfull.allocations.find((a) => a.tier === "hbm")!.offset = 1 << 30;
    writeFileSync(broken, JSON.stringify(overfull));
    expectDiagnostic(["run", broken, "--input", `input_ids=${idsPath}`, "--model", MODEL, "--timeline", trace], /broken\.json: hbm over capacity: /, [trace]);
  });

  it("refuses, in verify and run alike, a tensor of an unknown dtype, a plan input the graph does not have, allocations of 0 or 4 bytes, an unknown kernel kind, a section missing a kernel and no sections", () => {
    const trace = join(dir, "t2.json");
    const edits: (readonly [string, (p: Writable<Plan>) => void, RegExp])[] = [
      ["dtype.json", (p) => { (p.dataflow.tensors[0] as { dtype: string }).dtype = "q7"; }, /dtype\.json: not a valid plan: \$\.dataflow\.tensors\[0\]\.dtype: "q7" is not one of "f32", /],
      ["renamed.json", (p) => { (p.dataflow.inputs as string[])[0] = "ghost"; }, /the plan's input 'ghost' is not an input of the model's graph/],
      ...([0, 4] as const).map((bytes) => [`alloc${bytes}.json`, (p: Writable<Plan>) => {
        const a = p.allocations.find((x) => x.bytes > 8)! as { bytes: number };
        a.bytes = bytes;
      }, new RegExp(`(its allocation in \\w+ has ${bytes}|the allocation of '[^']+' has ${bytes} bytes, the tensor needs)`)] as const),
      ["kind.json", (p) => { (p.dataflow.kernels[0] as { kind: string }).kind = "wizard"; }, /kernel k0 has kind 'wizard', which the dataflow level does not define/],
      ["missing.json", (p) => { (p.sections[0] as { kernels: unknown[] }).kernels.splice(0, 1); }, /kernel k0 is in no section of the plan, so nothing would run it/],
      ["nosections.json", (p) => { (p.sections as unknown[]).length = 0; }, /(lives over sections 0\.\.\d+, the plan has 0|the plan has no sections to run)/],
    ];
    for (const [file, edit, words] of edits) {
      const path = join(dir, file), bad = structuredClone(plan) as Writable<Plan>;
      edit(bad);
      writeFileSync(path, JSON.stringify(bad));
      expectDiagnostic(["verify", path, "--model", MODEL], words);
      expectDiagnostic(["run", path, "--input", `input_ids=${idsPath}`, "--model", MODEL, "--timeline", trace], words, [trace]);
    }
  });

  it("names the missing model and inputs of the wrong shape", () => {
    const out = join(dir, "missing"), lost = join(dir, "lost.json");
    writeFileSync(lost, planToJson({ ...plan, model: { file: plan.model.file, sha256: plan.model.sha256, given: join(dir, "gone", "llama-tiny.dynamo.onnx") } }));
    expectDiagnostic(["run", lost, "--input", `input_ids=${idsPath}`, "--output", out], /cannot find 'llama-tiny\.dynamo\.onnx', the model the plan was compiled from \(looked at .*gone.*\): give it with --model/, [out]);
    const short = join(dir, "short.json");
    writeFileSync(short, "[[1, 2, 3]]");
    expectDiagnostic(["run", planPath, "--input", `input_ids=${short}`, "--model", MODEL, "--output", out], /input 'input_ids': the plan was compiled for shape \[1, 5\], got \[1, 3\]/, [out]);
  });
});

describe("a plan finds its model", () => {
  it("from any folder, through the path it records relative to itself, and through the path compile was given", () => {
    const out = join(dir, "found");
    const compiled = runCli(["compile", "examples/models/llama-tiny.dynamo.onnx", "--target", "toy", "--batch", "1", "--seq", "5", "-o", out, "-q"]);
    expect(compiled.code, compiled.stderr).toBe(0);
    const written = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as Plan;
    expect(written.model.given).toBe(join(ROOT, "examples/models/llama-tiny.dynamo.onnx"));
    expect(written.model.path).toMatch(/^(\.\.\/)+.*examples\/models\/llama-tiny\.dynamo\.onnx$/);
    // From another folder: the path relative to the plan.
    const elsewhere = runCli(["run", join(out, "plan.json"), "--input", `input_ids=${idsPath}`, "--output", join(dir, "found-out")], dir);
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    // A copy of the plan in another folder: the path compile was given, resolved.
    const copy = join(dir, "copy.plan.json");
    writeFileSync(copy, readFileSync(join(out, "plan.json")));
    const fromRoot = runCli(["run", copy, "--input", `input_ids=${idsPath}`, "--output", join(dir, "copy-out")]);
    expect(fromRoot.code, fromRoot.stderr).toBe(0);
    const a = readTensorFile(join(dir, "found-out", "logits.npy")), b = readTensorFile(join(dir, "copy-out", "logits.npy"));
    expect(Array.from(a.data as Float32Array)).toEqual(Array.from(b.data as Float32Array));
  });
});

describe("the plan schema", () => {
  it("names every element type the IR has, and no other", () => {
    const schema = JSON.parse(readFileSync(join(ROOT, "ir", "placement", "plan.schema.json"), "utf8")) as { $defs: { dtype: { enum: string[] } } };
    expect([...schema.$defs.dtype.enum].sort()).toEqual(Object.keys(DTYPES).sort());
  });
});
