// Compiling the same input twice gives byte-identical outputs, whatever the
// working directory, the way the model path is written (absolute or relative),
// the time zone or the locale. In-process for every example model (one target
// and level each), the other levels for one model, then once through the CLI
// in child processes with a different environment (every file it writes).

import { mkdtempSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import type { CompileOptions } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import { formatReport } from "../../compiler/report.js";
import { printModule } from "../../ir/graph/printer.js";
import { printDataflow } from "../../ir/dataflow/text.js";
import { printPlacement } from "../../ir/placement/text.js";
import { ROOT } from "../support/cli.js";

const MODELS = join(ROOT, "examples", "models");
/** tsx's loader by absolute path: the CLI runs from folders outside the repository. */
const TSX = join(ROOT, "node_modules", "tsx", "dist", "loader.mjs");
const EXAMPLES = [
  ...readdirSync(MODELS).filter((f) => f.endsWith(".onnx")).sort(),
  "llama-tiny-external/model.onnx",
];

async function outputs(modelPath: string, options: CompileOptions): Promise<Record<string, string>> {
  const r = await compile(modelPath, options);
  return {
    "plan.json": planToJson(r.plan), "graph.tfg": printModule(r.graph), "dataflow.tfd": printDataflow(r.dataflow),
    "placement.tfp": printPlacement(r.plan), "report.txt": formatReport(r.plan, r.target),
  };
}

const cwd0 = process.cwd(), tz0 = process.env.TZ;
afterAll(() => {
  process.chdir(cwd0);
  if (tz0 === undefined) delete process.env.TZ;
  else process.env.TZ = tz0;
});

describe("compiling twice gives byte-identical outputs", () => {
  const other = mkdtempSync(join(tmpdir(), "tierflow-det-"));
  for (const model of EXAMPLES) {
    it(model, async () => {
      const options: CompileOptions = { target: "sn40l", opt: 2, phase: model.startsWith("mobilenet") || model.startsWith("bert") ? "prefill" : "decode", seq: 32 };
      process.chdir(ROOT);
      process.env.TZ = "UTC";
      const first = await outputs(join(MODELS, model), options);
      // A different folder, a relative path that climbs to the model, another time zone.
      process.chdir(other);
      process.env.TZ = "Pacific/Chatham";
      const second = await outputs(relative(other, join(MODELS, model)), options);
      process.chdir(cwd0);
      for (const name of Object.keys(first)) expect(second[name], `${model}: ${name} differs`).toBe(first[name]);
    });
  }
});

describe("every level, and the CLI in another environment", () => {
  it("-O0 and -O1 in-process, from another folder and time zone", async () => {
    const other = mkdtempSync(join(tmpdir(), "tierflow-det-"));
    const model = join(MODELS, "gpt2-tiny.torchscript.onnx");
    for (const opt of [0, 1] as const) {
      const options: CompileOptions = { target: "toy", opt, phase: "prefill", seq: 16 };
      process.chdir(ROOT);
      process.env.TZ = "UTC";
      const first = await outputs(model, options);
      process.chdir(other);
      process.env.TZ = "America/St_Johns";
      const second = await outputs(relative(other, model), options);
      process.chdir(cwd0);
      for (const name of Object.keys(first)) expect(second[name], `-O${opt}: ${name} differs`).toBe(first[name]);
    }
  });

  it("the files `tierflow compile` writes, from another folder, time zone and locale", () => {
    const base = mkdtempSync(join(tmpdir(), "tierflow-det-cli-"));
    const elsewhere = join(base, "elsewhere");
    mkdirSync(elsewhere);
    // The model reached through a symlinked folder as well: only its bytes and file name may matter.
    symlinkSync(MODELS, join(elsewhere, "models"));
    const run = (cwd: string, model: string, out: string, env: Record<string, string>) => {
      const r = spawnSync(process.execPath, ["--import", pathToFileURL(TSX).href, join(ROOT, "compiler/cli/entry.ts"),
        "compile", model, "--target", "toy", "-O2", "--phase", "prefill", "--seq", "16", "-q", "--viz", "-o", out], {
        cwd, encoding: "utf8", timeout: 120_000, env: { ...process.env, NODE_OPTIONS: "", ...env },
      });
      expect(r.status, r.stderr).toBe(0);
    };
    const a = join(base, "a"), b = join(base, "b");
    run(ROOT, join(MODELS, "gpt2-tiny.torchscript.onnx"), a, { TZ: "UTC", LANG: "C", LC_ALL: "C" });
    run(elsewhere, "models/gpt2-tiny.torchscript.onnx", b, { TZ: "Asia/Kolkata", LANG: "de_DE.UTF-8", LC_ALL: "tr_TR.UTF-8" });
    const files = readdirSync(a).sort();
    expect(readdirSync(b).sort()).toEqual(files);
    expect(files).toEqual(["dataflow.tfd", "graph.tfg", "placement.tfp", "plan.html", "plan.json", "report.txt"]);
    for (const f of files) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), `${f} differs`).toBe(true);
  }, 120_000);
});
