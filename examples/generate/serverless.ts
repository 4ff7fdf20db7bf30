// Writes a serverless fleet as a CoE manifest: thousands of models, each with
// its own weights, over several Llama-family graphs of different sizes (1B to
// 70B shapes), the way a serverless platform hosts many fine-tunes of a few
// base architectures on a few accelerators (hardware brief: about 3,000 models
// on about 10 chips). Graphs are written without weights; each model binds its
// own (absent) weight file, so the fleet plans and simulates but does not run.
// Models are interleaved across sizes in manifest order, so a Zipf mapping of a
// trace (expert k with weight 1/k^s, in manifest order) favours no one size.
//
//   npx tsx examples/generate/serverless.ts [--models 3000] -o out/fleet

import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LlamaConfig } from "./llama-onnx.js";
import { LLAMA_PRESETS, writeLlama } from "./llama-onnx.js";

/** Llama 3.2 1B and 3B shapes (Meta's released config.json files), beside the presets. */
const SMALL: Readonly<Record<string, LlamaConfig>> = {
  "llama-3.2-1b": { vocab: 128256, hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, ropeTheta: 500000, weightType: 16 },
  "llama-3.2-3b": { vocab: 128256, hidden: 3072, intermediate: 8192, layers: 28, heads: 24, kvHeads: 8, ropeTheta: 500000, weightType: 16 },
};

/** The fleet's mix: graph and the share of models built on it (small models are the many). */
export const FLEET_MIX: readonly { readonly graph: string; readonly share: number }[] = [
  { graph: "llama-3.2-1b", share: 0.3 },
  { graph: "llama-3.2-3b", share: 0.3 },
  { graph: "llama-2-7b", share: 0.2 },
  { graph: "llama-3.1-8b", share: 0.15 },
  { graph: "llama-2-13b", share: 0.04 },
  { graph: "llama-3.1-70b", share: 0.01 },
];

/** Write `models` models over the mix into `dir` (graphs under graphs/<name>/model.onnx); returns the manifest's path. */
export function writeFleet(dir: string, models = 3000, target = "sn40l-node"): string {
  for (const { graph } of FLEET_MIX) writeLlama(join(dir, "graphs", graph, "model.onnx"), SMALL[graph] ?? LLAMA_PRESETS[graph]!);
  // Round-robin over the mix by deficit: model i goes to the graph furthest below its share.
  const given = FLEET_MIX.map(() => 0);
  const experts: [string, { graph: string; weights: string }][] = [];
  for (let i = 0; i < models; i++) {
    let k = 0;
    for (let j = 1; j < FLEET_MIX.length; j++) if (FLEET_MIX[j]!.share * (i + 1) - given[j]! > FLEET_MIX[k]!.share * (i + 1) - given[k]!) k = j;
    given[k]!++;
    const name = `m${String(i).padStart(4, "0")}`;
    experts.push([name, { graph: `graphs/${FLEET_MIX[k]!.graph}/model.onnx`, weights: `weights/${name}.data` }]);
  }
  mkdirSync(dir, { recursive: true });
  // The small example CoE's router: the fleet is routed by the trace, the router only has to exist.
  copyFileSync(join(import.meta.dirname, "..", "coe", "router.onnx"), join(dir, "router.onnx"));
  const manifest = {
    format: "tierflow-coe", version: 1,
    description: `a serverless fleet: ${models} models over ${FLEET_MIX.length} Llama-family graphs (1B to 70B shapes), each with its own weights (not written)`,
    target,
    router: { model: "router.onnx", routes: { 0: experts[0]![0], 1: experts[1]![0], 2: experts[2]![0] } },
    experts: Object.fromEntries(experts),
    shared_graphs: Object.fromEntries(FLEET_MIX.map(({ graph }) => [`graphs/${graph}/model.onnx`, { external_data_location: "model.onnx.data" }])),
  };
  const file = join(dir, "fleet.json");
  writeFileSync(file, `${JSON.stringify(manifest, null, 1)}\n`);
  return file;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (flag: string) => { const i = process.argv.indexOf(flag); return i >= 0 ? process.argv[i + 1] : undefined; };
  const out = arg("-o") ?? "out/fleet";
  const file = writeFleet(out, Number(arg("--models") ?? 3000));
  process.stdout.write(`wrote ${file}; then: tierflow compile ${file} -o ${out}/plan\n`);
}
