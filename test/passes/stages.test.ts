// Every compile stage is a registered pass: `compile` runs them by name and
// records each run, so --time-passes and --print-ir-after-all see the whole
// pipeline; the IR a stage leaves parses at its level.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { allStages } from "../../compiler/passes/stage.js";
import { parseDataflow } from "../../ir/dataflow/text.js";
import { parsePlacement } from "../../ir/placement/text.js";
import { ROOT, runCli } from "../support/cli.js";

const MODEL = join(ROOT, "examples/models/llama-tiny.dynamo.onnx");
const SOCKET = ["lower-to-dataflow", "verify-dataflow", "partition-sections", "allocate-units", "place-tensors", "cost", "verify-placement"];

describe("compile stages", () => {
  it("are registered with a summary, a description and their levels, and compile runs them in order", async () => {
    const r = await compile(MODEL, { target: "sn40l", phase: "decode", seq: 16, recordIR: true });
    const stages = new Map(allStages().map((s) => [s.name, s]));
    for (const name of [...SOCKET, "plan-parallel"]) {
      const s = stages.get(name);
      expect(s, name).toBeDefined();
      expect(s!.summary.length).toBeGreaterThan(20);
      expect(s!.description.length).toBeGreaterThan(s!.summary.length);
    }
    const ran = r.records.map((x) => x.pass);
    expect(ran.slice(-SOCKET.length)).toEqual(SOCKET);
    // The IR each stage leaves parses at its level; the last is the plan itself.
    const after = (name: string) => r.records.find((x) => x.pass === name)!.after!;
    expect(parseDataflow(after("lower-to-dataflow")).kernels.length).toBe(r.dataflow.kernels.length);
    expect(parsePlacement(after("partition-sections")).sections.length).toBe(r.plan.sections.length);
    expect(parsePlacement(after("cost")).sections.map((s) => s.cost.seconds)).toEqual(r.plan.sections.map((s) => s.cost.seconds));
    expect(parsePlacement(after("verify-placement"))).toEqual(parsePlacement(after("verify-placement")));
    expect(parsePlacement(after("verify-placement")).prediction).toEqual(r.plan.prediction);
  });

  it("a node-level layout is one stage, and its plan is verified by another", async () => {
    const r = await compile(MODEL, { target: "sn40l-node", phase: "decode", seq: 16, parallel: "tp=2" });
    expect(r.records.map((x) => x.pass).slice(-2)).toEqual(["plan-parallel", "verify-placement"]);
  });

  it("tierflow passes lists the graph passes and the stages with their levels; --time-passes times the stages", () => {
    const p = runCli(["passes"]);
    expect(p.code, p.stderr).toBe(0);
    for (const name of SOCKET) expect(p.stdout).toMatch(new RegExp(`^  ${name} +[a-z]+ -> [a-z]+: `, "m"));
    expect(runCli(["passes", "--verbose"]).stdout).toMatch(/IR it produces|Output/);
    const t = runCli(["compile", MODEL, "--target", "toy", "--phase", "decode", "--seq", "16", "-q", "--time-passes", "-o", join(mkdtempSync(join(tmpdir(), "tierflow-stages-")), "out")]);
    expect(t.code, t.stderr).toBe(0);
    for (const name of SOCKET) expect(t.stderr).toMatch(new RegExp(`^  ${name} +[\\d.]+ ms`, "m"));
  });
});
