// One property case: a random graph at random dims, compiled for every target
// and level. Each compile either refuses in one line (a TierflowError: the
// chip cannot hold some kernel's buffers, say) or writes a plan that the
// legality check accepts, that runs, and whose outputs equal the interpreter's.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeModel } from "../../compiler/onnx/proto.js";
import { writeFileSync } from "node:fs";
import { loadModel } from "../../compiler/load.js";
import { compile } from "../../compiler/compile.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor } from "../../ir/tensor.js";
import { seededRandom } from "../../compiler/seeded-random.js";
import { run } from "../../targets/reference/index.js";
import { executePlan } from "../../targets/runtime/index.js";
import type { GraphSpec } from "./graphs.js";
import { VOCAB, buildGraph } from "./graphs.js";

export const TARGETS = ["sn40l", "toy", "h100", "a100"] as const;
export const LEVELS = [0, 1, 2] as const;

export interface Tally {
  graphs: number;
  plans: number;
  refused: number;
  readBack: number;
  movedToHost: number;
  reasons: Map<string, number>;
}

export const newTally = (): Tally => ({ graphs: 0, plans: 0, refused: 0, readBack: 0, movedToHost: 0, reasons: new Map() });

function inputsFor(batch: number, seq: number, hidden: number, seed: number): Record<string, Tensor> {
  const random = seededRandom(seed);
  const x = makeTensor("f32", [batch, seq, hidden]);
  (x.data as Float32Array).forEach((_, i, d) => { d[i] = random() * 2 - 1; });
  const ids = makeTensor("i64", [batch, seq]);
  (ids.data as BigInt64Array).forEach((_, i, d) => { d[i] = BigInt(Math.floor(random() * VOCAB)); });
  return { x, ids };
}

/** Largest difference relative to max(1, |want|); NaN or a missing output is Infinity. */
function relativeError(want: Readonly<Record<string, Tensor>>, got: Readonly<Record<string, Tensor>>): number {
  let worst = 0;
  for (const [name, w] of Object.entries(want)) {
    const g = got[name];
    if (!g || g.data.length !== w.data.length) return Infinity;
    for (let i = 0; i < w.data.length; i++) {
      const a = Number(w.data[i]), b = Number(g.data[i]);
      const e = a === b ? 0 : Math.abs(a - b) / Math.max(1, Math.abs(a));
      if (!(e <= worst)) worst = e;
    }
  }
  return worst;
}

/** Throws with the graph's description when a written plan fails; counts what happened in `tally`. */
export async function checkGraph(spec: GraphSpec, batch: number, seq: number, tally: Tally): Promise<void> {
  const { model, text } = buildGraph(spec);
  const dir = mkdtempSync(join(tmpdir(), "tierflow-property-"));
  const path = join(dir, "model.onnx");
  try {
    writeFileSync(path, encodeModel(model));
    const { module } = await loadModel(path);
    const inputs = inputsFor(batch, seq, spec.hidden, spec.seed);
    const want = run(module, inputs, { modelDir: dir }).outputs;
    mainGraph(module);
    tally.graphs++;
    for (const target of TARGETS) {
      for (const opt of LEVELS) {
        let compiled;
        try {
          compiled = await compile(path, { target, opt, batch, seq });
        } catch (err) {
          if (!(err instanceof TierflowError) || err.message.includes("\n")) throw err;
          tally.refused++;
          const reason = err.message.replace(/kernel k\d+/, "kernel").replace(/\d+/g, "N").slice(0, 80);
          tally.reasons.set(reason, (tally.reasons.get(reason) ?? 0) + 1);
          continue;
        }
        const { plan, graph, target: t } = compiled;
        let outputs;
        try {
          outputs = executePlan(plan, inputs, { graph, target: t, modelDir: dir }).outputs;
        } catch (err) {
          throw new Error(`${target} -O${opt} at batch ${batch} x ${seq}: the compiled plan did not run: ${(err as Error).message}\n${text}`);
        }
        const error = relativeError(want, outputs);
        if (!(error <= 1e-4)) throw new Error(`${target} -O${opt} at batch ${batch} x ${seq}: outputs differ by ${error}\n${text}`);
        tally.plans++;
        if (plan.transfers.some((x) => x.to === "host")) tally.readBack++;
        if (plan.dataflow.kernels.some((k) => k.kind === "host" && (k.ops[0] === "CumSum"))) tally.movedToHost++;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatTally(t: Tally): string {
  const reasons = [...t.reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => `    ${n} x ${r}`);
  return [
    `${t.graphs} graphs, ${t.plans} plans written and run (${t.readBack} with a value read back to the host, ${t.movedToHost} with a CumSum moved to the host), ${t.refused} compiles refused`,
    ...(reasons.length > 0 ? ["  refusals:", ...reasons] : []),
  ].join("\n");
}
