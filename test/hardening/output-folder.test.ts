// A plan's folder is written as one step: every file rendered into a staging
// folder first (a failure leaves the folder as it was), then renamed into
// place under a lock, so two compiles into one folder never mix their files.
// A plan whose prediction is not a number (a target figure too small to cost
// with) is refused before anything is written.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeFolder } from "../../compiler/emit.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { ROOT, expectDiagnostic, runCli } from "../support/cli.js";

const folder = () => mkdtempSync(join(tmpdir(), "tierflow-folder-"));

describe("an output folder", () => {
  it("is written whole, plan.json last, with nothing left behind", () => {
    const out = folder();
    writeFolder(out, [["graph.tfg", () => "graph"], ["sub/x.json", () => "x"], ["plan.json", () => "plan"]]);
    expect(readdirSync(out).sort()).toEqual(["graph.tfg", "plan.json", "sub"]);
    expect(readFileSync(join(out, "sub", "x.json"), "utf8")).toBe("x");
  });

  it("is left as it was when a file cannot be rendered", () => {
    const out = folder();
    writeFolder(out, [["graph.tfg", () => "old graph"], ["plan.json", () => "old plan"]]);
    expect(() => writeFolder(out, [["graph.tfg", () => "new graph"], ["plan.json", () => { throw new TierflowError("cannot print it"); }]])).toThrow(/cannot print it/);
    expect(readFileSync(join(out, "graph.tfg"), "utf8")).toBe("old graph");
    expect(readFileSync(join(out, "plan.json"), "utf8")).toBe("old plan");
    expect(readdirSync(out).sort()).toEqual(["graph.tfg", "plan.json"]);
  });

  it("is refused while another running tierflow holds its lock, and taken over from one that died", () => {
    const out = folder();
    writeFileSync(join(out, ".tierflow-lock"), String(process.pid));
    expect(() => writeFolder(out, [["plan.json", () => "plan"]])).toThrow(new RegExp(`another tierflow \\(process ${process.pid}\\) is writing this folder; wait for it, or remove \\.tierflow-lock`));
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid!;
    writeFileSync(join(out, ".tierflow-lock"), String(gone));
    writeFolder(out, [["plan.json", () => "plan"]]);
    expect(readdirSync(out)).toEqual(["plan.json"]);
  });

  it("is made, nested, by compile", () => {
    const out = join(folder(), "new", "nested");
    const r = runCli(["compile", join(ROOT, "examples/models/llama-tiny.dynamo.onnx"), "--target", "toy", "-q", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["dataflow.tfd", "graph.tfg", "placement.tfp", "plan.json", "report.txt"]);
  });

  it("is not written for a plan whose predicted time is not a number", () => {
    const dir = folder(), target = join(dir, "slow.json"), out = join(dir, "out");
    const preset = JSON.parse(readFileSync(join(ROOT, "targets", "presets", "sn40l.json"), "utf8")) as { name: string; hbm: { bandwidth: number } };
    writeFileSync(target, JSON.stringify({ ...preset, name: "slow", hbm: { ...preset.hbm, bandwidth: 5e-324 } }));
    expectDiagnostic(["compile", join(ROOT, "examples/models/llama-tiny.dynamo.onnx"), "--target", target, "-q", "-o", out],
      /target 'slow': the predicted time is Infinity, not a number of seconds/);
    expect(readdirSync(dir)).toEqual(["slow.json"]);
  });
});
