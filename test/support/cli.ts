// Run the tierflow CLI from source as a user would, in a child process.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "vitest";

export const ROOT = join(import.meta.dirname, "..", "..");
// tsx's loader by its location, so the CLI also runs from folders outside the repository.
const TSX = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], cwd = ROOT): CliResult {
  const r = spawnSync(process.execPath, ["--import", TSX, join(ROOT, "compiler/cli/entry.ts"), ...args], {
    cwd, encoding: "utf8", timeout: 60_000, env: { ...process.env, NODE_OPTIONS: "" },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The CLI fails as bad input must: exit status 1 and one line, `tierflow:
 * error: ...` matching `pattern`, no stack trace, and none of `untouched` written.
 */
export function expectDiagnostic(args: readonly string[], pattern: RegExp, untouched: readonly string[] = []): void {
  const r = runCli(args);
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trim().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tierflow: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  for (const path of untouched) expect(existsSync(path), `${path} was written`).toBe(false);
}
