// Run a command-line tierflow invocation as a user would (built CLI, fresh
// process) and measure wall time and peak memory.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");

export interface Measurement {
  readonly wallMs: number;
  readonly maxRssMiB: number;
  readonly stdout: string;
}

export function measureCli(args: readonly string[]): Measurement {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-usage-"));
  const usageFile = join(dir, "usage.jsonl");
  try {
    const start = performance.now();
    const r = spawnSync(process.execPath, ["--import", join(ROOT, "bench/support/report-usage.mjs"), join(ROOT, "bin/tierflow.js"), ...args], {
      encoding: "utf8", env: { ...process.env, TIERFLOW_USAGE_FILE: usageFile }, maxBuffer: 256 * 1024 * 1024,
    });
    const wallMs = performance.now() - start;
    if (r.status !== 0) throw new Error(`tierflow ${args.join(" ")} failed: ${r.stderr}`);
    const usage = JSON.parse(readFileSync(usageFile, "utf8").trim().split("\n").pop()!) as { maxRssKiB: number };
    return { wallMs, maxRssMiB: usage.maxRssKiB / 1024, stdout: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
