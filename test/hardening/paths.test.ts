// Files that inputs name stay inside the folder they are allowed in, and
// outputs are written atomically: a failed write leaves neither a partial
// file nor its temporary behind. (ONNX external data: test/onnx/bad-input.test.ts.)

import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { TierflowError } from "../../ir/diagnostics.js";
import type { Plan } from "../../ir/placement/plan.js";
import { compile } from "../../compiler/compile.js";
import { planToJson, readPlan } from "../../compiler/plan-json.js";
import { ensureDir, writeAtomically } from "../../compiler/emit.js";
import { openPlan } from "../../compiler/open-plan.js";
import { readWeightBytes } from "../../targets/reference/weights.js";
import type { WeightConstant } from "../../targets/reference/weights.js";
import { writeTensorFile } from "../../compiler/tensor-files.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { runCli } from "../support/cli.js";
import { ROOT } from "../support/cli.js";

const MODEL = join(ROOT, "examples", "models", "llama-tiny.torchscript.onnx");
let dir: string, plan: Plan;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-paths-"));
  mkdirSync(join(dir, "model"));
  writeFileSync(join(dir, "outside.bin"), new Uint8Array(64));
  writeFileSync(join(dir, "secret.json"), "root:x:0:0\n");
  ({ plan } = await compile(MODEL, { target: "toy", opt: 2, phase: "prefill", seq: 4 }));
}, 60_000);

async function refused(body: () => unknown, pattern: RegExp): Promise<void> {
  let err: unknown;
  try {
    await body();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TierflowError);
  expect((err as Error).message).toMatch(pattern);
}

function writePlan(name: string, edit: (p: Record<string, unknown>) => void): string {
  const json = JSON.parse(planToJson(plan)) as Record<string, unknown>;
  edit(json);
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(json));
  return path;
}

describe("a plan names only plain files", () => {
  for (const file of ["../outside.onnx", "/etc/passwd", "C:\\model.onnx", "sub/model.onnx", "..", ""]) {
    it(`a model file '${file}' is refused before it is read`, async () => {
      const path = writePlan("model-path.json", (p) => { p.model = { ...(p.model as object), file }; });
      await refused(() => openPlan(path), /not a plain file name/);
    });
  }
  it("a target that is a path is refused before it is read", async () => {
    for (const target of [join(dir, "secret.json"), "../secret.json", "secret.json"]) {
      const path = writePlan("target-path.json", (p) => { p.target = target; });
      await refused(() => readPlan(path), /a path: a plan names a preset/);
    }
  });
});

describe("weights named by IR text stay inside the model's folder", () => {
  const weight = (file: string): WeightConstant => ({ kind: "weight", ref: { file, offset: 0, length: 16 }, dims: [4], dtype: "f32" });
  it("'..', absolute and drive paths are refused", async () => {
    await refused(() => readWeightBytes(weight("../outside.bin"), join(dir, "model")), /escapes the model's folder/);
    await refused(() => readWeightBytes(weight(join(dir, "outside.bin")), join(dir, "model")), /is absolute/);
    await refused(() => readWeightBytes(weight("D:\\w.bin"), join(dir, "model")), /drive path/);
  });
  it("a symlink that leads out is refused", async () => {
    symlinkSync(join(dir, "outside.bin"), join(dir, "model", "link.bin"));
    await refused(() => readWeightBytes(weight("link.bin"), join(dir, "model")), /symlink that leads out/);
  });
});

describe("outputs are written atomically", () => {
  it("a write that cannot be renamed into place leaves nothing behind", async () => {
    const out = join(dir, "atomic");
    mkdirSync(join(out, "plan.json", "occupied"), { recursive: true }); // a folder where the file should go
    await refused(() => writeAtomically(out, "plan.json", "{}"), /cannot write plan\.json/);
    expect(readdirSync(out)).toEqual(["plan.json"]);
  });
  it("an output folder that is a file is a diagnostic", async () => {
    writeFileSync(join(dir, "a-file"), "");
    await refused(() => ensureDir(join(dir, "a-file")), /cannot create the output folder/);
    await refused(() => writeTensorFile(join(dir, "a-file", "y.npy"), tensorFromValues("f32", [1], [1]), "npy"),
      /cannot write file/);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
  it("tierflow run --output naming a file is one line, exit 1 (was an internal error)", () => {
    const x = join(dir, "x.json");
    writeFileSync(x, JSON.stringify({ dtype: "f32", dims: [2, 3], data: [[1, -2, 3], [-4, 5, -6]] }));
    const model = join(dir, "relu.tfg");
    writeFileSync(model, 'module @relu {\n  opset "" = 17\n  graph @main(%x: f32[2, 3]) -> (%y) {\n    %y = Relu(%x) : f32[2, 3]\n    return %y\n  }\n}\n');
    const blocker = join(dir, "blocker");
    writeFileSync(blocker, "");
    const r = runCli(["run", model, "--input", `x=${x}`, "--output", blocker]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^tierflow: error: .*cannot create the output folder/);
  });
});
