// Writes examples/coe/coe-7b.json and examples/coe/llama-2-7b/model.onnx: a
// Composition of Experts at the SN40L paper's scale (Prabhakar et al., MICRO
// 2024: 150 Llama-2-7B experts), for planning and simulating serving. The
// experts share one Llama-2-7B graph (examples/generate/llama-onnx.ts) and
// each binds its own weight file, which is not written: compiling and
// simulating never read weights, so this CoE plans and simulates but does not
// run. The router is the small example CoE's.
//
//   npx tsx examples/generate/coe-7b.ts

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LLAMA_PRESETS, writeLlama } from "./llama-onnx.js";

const DIR = join(import.meta.dirname, "..", "coe");
const EXPERTS = 150;

export function writeCoe7b(dir = DIR, experts = EXPERTS): string {
  writeLlama(join(dir, "llama-2-7b", "model.onnx"), LLAMA_PRESETS["llama-2-7b"]!);
  const name = (i: number) => `e${String(i).padStart(3, "0")}`;
  const manifest = {
    format: "tierflow-coe", version: 1,
    description: `${experts} Llama-2-7B experts sharing one graph, each with its own weights (not in the repository: this CoE plans and simulates, it does not run)`,
    target: "sn40l-node",
    router: { model: "router.onnx", routes: { 0: name(0), 1: name(1), 2: name(2) } },
    experts: Object.fromEntries(Array.from({ length: experts }, (_, i) => [name(i), { graph: "llama-2-7b/model.onnx", weights: `experts-7b/${name(i)}.data` }])),
    shared_graphs: { "llama-2-7b/model.onnx": { external_data_location: "model.onnx.data" } },
  };
  const file = join(dir, "coe-7b.json");
  writeFileSync(file, `${JSON.stringify(manifest, null, 1)}\n`);
  return file;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`wrote ${writeCoe7b()}\n`);
