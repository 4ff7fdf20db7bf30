// Plans executed as placed compute what the graph interpreter computes: every
// example model (both exporters, and the copy with external data) at -O0, -O1
// and -O2 for sn40l (everything fits: one big section at -O2) and toy (weights
// spill to DDR and -O2 needs several sections). The same seeded inputs go
// through the reference interpreter (import + default pipeline) and through
// the runtime on the compiled plan; float outputs must agree within 1e-5 at
// -O0 and 1e-4 for fused plans. The largest error per case is printed.

import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { loadModel } from "../../compiler/load.js";
import { compile } from "../../compiler/compile.js";
import { run } from "../../targets/reference/index.js";
import { executePlan } from "../../targets/runtime/index.js";
import { MODELS_DIR, maxAbsError, sampleInputs } from "./support.js";

const TARGETS = ["sn40l", "toy"] as const;
const LEVELS = [0, 1, 2] as const;
const SEQUENCE = 6;

const files = [...readdirSync(MODELS_DIR).filter((f) => f.endsWith(".onnx")).sort(), join("llama-tiny-external", "model.onnx")];

const summary: string[] = [];
afterAll(() => {
  if (summary.length > 0) console.log(`plan runtime vs graph interpreter, max abs error (sn40l / toy):\n${summary.join("\n")}`);
});

async function outcome(path: string, target: string, opt: 0 | 1 | 2, batch: number, inputs: Record<string, Tensor>, want: Record<string, Tensor>): Promise<number | Error> {
  try {
    const { plan, graph, target: t } = await compile(path, { target, opt, batch, seq: SEQUENCE });
    const { outputs } = executePlan(plan, inputs, { graph, target: t, modelDir: dirname(path) });
    return maxAbsError(want, outputs);
  } catch (err) {
    if (err instanceof TierflowError) return err;
    throw err;
  }
}

describe("plans executed as placed agree with the graph interpreter", () => {
  it.each(files)("%s", async (file) => {
    const path = join(MODELS_DIR, file);
    const { module } = await loadModel(path);
    const graph = mainGraph(module);
    const batch = graph.inputs.includes("pixels") ? 1 : 2;
    const inputs = sampleInputs(graph.inputs, batch, SEQUENCE, 20251122);
    const want = run(module, inputs, { modelDir: dirname(path) }).outputs;
    const row: string[] = [];
    for (const opt of LEVELS) {
      const cells: string[] = [];
      for (const target of TARGETS) {
        const key = `${file} ${target} -O${opt}`;
        const got = await outcome(path, target, opt, batch, inputs, want);
        if (got instanceof Error) throw new Error(`${key}: ${got.message}`);
        cells.push(got.toExponential(1));
        expect(got, key).toBeLessThanOrEqual(opt === 0 ? 1e-5 : 1e-4);
      }
      row.push(`-O${opt} ${cells.join(" / ")}`);
    }
    summary.push(`  ${file.padEnd(34)} ${row.join("   ")}`);
  });
});
