// Run the tierflow CLI from source as a user would, in a child process.

import { spawnSync } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], cwd = ROOT): CliResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "compiler/cli/entry.ts"), ...args], {
    cwd, encoding: "utf8", timeout: 60_000, env: { ...process.env, NODE_OPTIONS: "" },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
