// The published types compile in a user's strict project without skipLibCheck:
// nothing the library exports names onnx-proto's typings (which want a `Long`
// the user does not have). Runs the project's TypeScript on a small consumer
// that imports the package by name (a link to this repository, built).

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/cli.js";

describe("the library's types", () => {
  it("compile under a user's strict tsconfig, without skipLibCheck", () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-consumer-"));
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(ROOT, join(dir, "node_modules", "tierflow"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true, types: [] }, files: ["main.ts"],
    }));
    writeFileSync(join(dir, "main.ts"), [
      'import { compile, importOnnxFile, loadModel, run, simulate, readPlan, renderPlanHtml, type Plan, type Module } from "tierflow";',
      'const r = await compile("m.onnx", { target: "sn40l", opt: 2 });',
      "const plan: Plan = r.plan;",
      'const m: Module = importOnnxFile("m.onnx");',
      "console.log(plan.prediction.seconds, m.name, loadModel, run, simulate, readPlan, renderPlanHtml);",
    ].join("\n"));
    const r = spawnSync(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", dir], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 60_000);
});
