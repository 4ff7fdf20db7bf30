// A file of the wrong kind is named for what it is, with the command that
// takes it: a CoE plan given to verify, a plan given to compile or inspect, an
// ONNX model given to verify, a target given as a manifest, a single model's
// folder given to simulate.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, expectDiagnostic, runCli } from "../support/cli.js";

let dir: string;
const MODEL = join(ROOT, "examples/models/llama-tiny.dynamo.onnx");

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-kinds-"));
  for (const args of [[MODEL, "--target", "toy", "-o", join(dir, "one")], [join(ROOT, "examples/coe/coe.json"), "-o", join(dir, "coe")]]) {
    const r = runCli(["compile", ...args, "-q"]);
    expect(r.code, r.stderr).toBe(0);
  }
}, 120_000);

describe("a file of the wrong kind", () => {
  const PLAN = /this is a plan `tierflow compile` wrote: check it with `tierflow verify`, run it with `tierflow run` or `tierflow generate`/;
  const COE_PLAN = /this is a CoE plan: give its folder to `tierflow simulate .*coe` or `tierflow run .*coe --request \.\.\.`/;
  it("a CoE plan given to verify, run or viz", () => {
    const coePlan = join(dir, "coe", "coe-plan.json");
    expectDiagnostic(["verify", coePlan], COE_PLAN);
    expectDiagnostic(["run", coePlan, "--input", "x=y.npy"], COE_PLAN);
    expectDiagnostic(["viz", coePlan, "-o", join(dir, "x.html")], COE_PLAN);
  });
  it("a plan given to compile, inspect or simulate, or its folder to simulate", () => {
    const plan = join(dir, "one", "plan.json");
    expectDiagnostic(["compile", plan, "--target", "toy", "-o", join(dir, "x")], PLAN);
    expectDiagnostic(["inspect", plan], PLAN);
    expectDiagnostic(["simulate", join(dir, "one")], PLAN);
  });
  it("an ONNX model or graph IR text given to verify", () => {
    expectDiagnostic(["verify", MODEL], /this is an ONNX model: compile it with `tierflow compile`/);
    expectDiagnostic(["verify", join(dir, "one", "graph.tfg")], /this is graph IR text: compile it with `tierflow compile`/);
  });
  it("a target given as a CoE manifest", () => {
    expectDiagnostic(["compile", join(ROOT, "targets/presets/toy.json"), "-o", join(dir, "y")], /this is a target description: give it to `tierflow compile --target`/);
  });
});
