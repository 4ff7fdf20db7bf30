// `npm run bench`: every benchmark, each printing its figures and goal.
// import-scale runs the built CLI (npm install builds it; `npm run build` after edits);
// reference-vs-ort runs the interpreter and onnxruntime in this process;
// compile-core compiles Llama-2-7B shapes and the example models in this process;
// coe compiles Llama-2-7B CoEs and simulates serving them in this process;
// node-parallel plans Llama shapes over a node's sockets and simulates serving;
// serving-published puts the serving engine beside Aegaeon's, DistServe's, Splitwise's and the SN40L paper's published figures;
// deploy-forms compares bf16 and int4 Llama-2-7B decode and lists the deployed forms' fusions;
// compile-scale compiles chains of 20,000 and 200,000 nodes and verifies a 20 MB plan (built CLI);
// serverless compiles a 3,000-model fleet for sn40l-node and dgx-h100 and serves an hour of a real trace;
// h100-grid compiles each point measured on an H100 (bench/device/h100-grid.json) before (h100 -O0, the peaks) and after
// (targets/calibrated/h100.json, measured curves) and prints both errors; --write-docs writes docs/VALIDATION.md.

import { benchImportScale, GOAL_RSS_MIB, GOAL_WALL_MS } from "./import-scale.js";
import { benchReferenceVsOrt } from "./reference-vs-ort.js";
import { benchCompileCore } from "./compile-core.js";
import { benchNodeParallel } from "./node-parallel.js";
import { benchCoe } from "./coe.js";
import { benchDeployForms } from "./deploy-forms.js";
import { benchServingPublished } from "./serving-published.js";
import { benchCompileScale } from "./compile-scale.js";
import { benchH100Grid } from "./h100-grid.js";
import { benchServerless } from "./serverless.js";

const scale = benchImportScale();
console.log(`import-scale  Llama-2-7B graph, ${scale.nodes} nodes, weights absent: inspect ${scale.wallMs.toFixed(0)} ms (goal < ${GOAL_WALL_MS} ms), peak RSS ${scale.maxRssMiB.toFixed(0)} MiB (goal < ${GOAL_RSS_MIB} MiB)  ${scale.pass ? "PASS" : "FAIL"}`);
console.log(await benchReferenceVsOrt());
console.log("");
for (const line of await benchCompileCore()) console.log(line);
console.log("");
for (const line of await benchCoe()) console.log(line);
console.log("");
for (const line of await benchNodeParallel()) console.log(line);
console.log("");
for (const line of await benchServingPublished()) console.log(line);
console.log("");
for (const line of await benchDeployForms()) console.log(line);
console.log("");
for (const line of benchCompileScale()) console.log(line);
console.log("");
for (const line of await benchServerless()) console.log(line);
console.log("");
for (const line of await benchH100Grid()) console.log(line);
