// `--json` for scripts: compile and verify print one JSON document on stdout
// that follows its schema in compiler/cli/schemas/, and agrees with the plan.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Schema } from "../../ir/json-schema.js";
import { validateJson } from "../../ir/json-schema.js";
import type { Plan } from "../../ir/placement/plan.js";
import { ROOT, runCli } from "../support/cli.js";

const schema = (name: string) => JSON.parse(readFileSync(join(ROOT, "compiler", "cli", "schemas", `${name}.schema.json`), "utf8")) as Schema;

describe("--json", () => {
  it("compile and verify print documents that follow their schemas", () => {
    const out = join(mkdtempSync(join(tmpdir(), "tierflow-json-")), "out");
    const c = runCli(["compile", join(ROOT, "examples/models/mobilenet-tiny.dynamo.onnx"), "--target", "sn40l", "--batch", "2", "--json", "-o", out]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toBe("");
    const compiled = JSON.parse(c.stdout) as { prediction: { seconds: number; unit: string; rate: number }; sections: number; batch: number };
    expect(validateJson(compiled, schema("compile"))).toBeUndefined();
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as Plan;
    expect(compiled.prediction.seconds).toBe(plan.prediction.seconds);
    expect(compiled.sections).toBe(plan.sections.length);
    expect(compiled.prediction.unit).toBe("images");
    expect(compiled.prediction.rate).toBeCloseTo(compiled.batch / compiled.prediction.seconds, 6);
    const v = runCli(["verify", join(out, "plan.json"), "--json"]);
    expect(v.code, v.stderr).toBe(0);
    const verified = JSON.parse(v.stdout) as { runs: boolean; allocations: number };
    expect(validateJson(verified, schema("verify"))).toBeUndefined();
    expect(verified).toMatchObject({ valid: true, runs: true, allocations: plan.allocations.length });
  });

  it("piped (no terminal), compile prints the report and no progress lines", () => {
    const out = join(mkdtempSync(join(tmpdir(), "tierflow-quiet-")), "out");
    const c = runCli(["compile", join(ROOT, "examples/models/llama-tiny.dynamo.onnx"), "--target", "toy", "-o", out]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toBe("");
    expect(c.stdout).toMatch(/^tierflow plan: llama-tiny\.dynamo\.onnx on toy/);
  });

  it("run prints the outputs with their values, or the files written, following its schema", () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-run-json-"));
    const ids = join(dir, "ids.json");
    writeFileSync(ids, "[[1, 5, 9, 2]]");
    const model = join(ROOT, "examples/models/llama-tiny.dynamo.onnx");
    const printed = runCli(["run", model, "--input", `input_ids=${ids}`, "--json"]);
    expect(printed.code, printed.stderr).toBe(0);
    const doc = JSON.parse(printed.stdout) as { outputs: { name: string; dims: number[]; values?: number[]; file?: string }[] };
    expect(validateJson(doc, schema("run"))).toBeUndefined();
    expect(doc.outputs[0]).toMatchObject({ name: "logits", dims: [1, 4, 512] });
    expect(doc.outputs[0]!.values).toHaveLength(4 * 512);
    const written = runCli(["run", model, "--input", `input_ids=${ids}`, "--json", "--output", join(dir, "out")]);
    const files = JSON.parse(written.stdout) as { outputs: { file?: string; values?: unknown }[] };
    expect(validateJson(files, schema("run"))).toBeUndefined();
    expect(files.outputs[0]!.file).toBe(join(dir, "out", "logits.npy"));
    expect(files.outputs[0]!.values).toBeUndefined();
  });

  it("simulate prints one document following its schema, for a run, auto's policies, a node search and a sweep", () => {
    const out = join(mkdtempSync(join(tmpdir(), "tierflow-sim-json-")), "coe");
    expect(runCli(["compile", join(ROOT, "examples/coe/coe.json"), "-o", out, "-q"]).code).toBe(0);
    const a = runCli(["simulate", out, "--requests", "60", "--json", "--ttft", "1", "--tpot", "0.1"]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toBe("");
    const doc = JSON.parse(a.stdout) as { result: { policy: string; latencyP99: number; requests: number; attainment: number }; tried: { latencyP99: number }[] };
    expect(validateJson(doc, schema("simulate"))).toBeUndefined();
    expect(doc.tried).toHaveLength(4);
    expect(doc.result.latencyP99).toBe(Math.min(...doc.tried.map((t) => t.latencyP99)));
    expect(doc.result.requests).toBe(60);
    const f = JSON.parse(runCli(["simulate", out, "--requests", "60", "--json", "--policy", "lru", "--ttft", "1", "--tpot", "0.1", "--find-nodes"]).stdout) as { findNodes: { nodes: number } };
    expect(validateJson(f, schema("simulate"))).toBeUndefined();
    expect(f.findNodes.nodes).toBeGreaterThanOrEqual(1);
    const w = JSON.parse(runCli(["simulate", out, "--sweep-experts", "1,10", "--requests", "20", "--json"]).stdout) as { sweep: { experts: number }[] };
    expect(validateJson(w, schema("simulate"))).toBeUndefined();
    expect(w.sweep.map((r) => r.experts)).toEqual([1, 10]);
  }, 120_000);
});
