// How far the command lets V8's heap grow between full collections. V8 lets the
// old generation reach about four times what survived the last full collection
// before it collects again, a factor tuned for long-running servers. A compile's
// live data peaks while it parses and lowers a large graph, and that headroom
// then makes up most of the process's memory: a 200,000-node chain peaked at
// about 1.1 GB with under 300 MB live. Growing by at most 2x brings it to about
// 800 MB at no measurable cost in time (bench/compile-scale.ts). A setting of
// the user's own (`node --heap-growing-percent=N bin/tierflow.js`) is kept.

import { setFlagsFromString } from "node:v8";

const GROWING_PERCENT = 100;

export function boundHeapGrowth(): void {
  if (process.execArgv.some((flag) => /^--heap[-_]growing[-_]percent\b/.test(flag))) return;
  setFlagsFromString(`--heap-growing-percent=${GROWING_PERCENT}`);
}
