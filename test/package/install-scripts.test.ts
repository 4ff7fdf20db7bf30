// A clone installs quietly: package.json's allowScripts decides, for every
// installed package with an install script, whether it runs (npm 11 warns about
// each one it does not cover), and denies onnxruntime-node's, which would
// download GPU binaries (its CPU ones ship in the package). No .npmrc: npm 11
// warns about project settings it does not know on every command.

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/cli.js";

interface Manifest { name: string; scripts?: Record<string, string>; allowScripts?: Record<string, boolean> }
const read = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Manifest;

/** Every installed package (scoped and nested ones too) whose install runs a script. */
function withInstallScripts(dir: string, found = new Set<string>()): Set<string> {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith(".")) continue;
    const path = join(dir, entry);
    if (entry.startsWith("@")) { withInstallScripts(path, found); continue; }
    const manifest = join(path, "package.json");
    if (!existsSync(manifest)) continue;
    const m = read(manifest);
    if (["preinstall", "install", "postinstall"].some((s) => m.scripts?.[s] !== undefined)) found.add(m.name);
    withInstallScripts(join(path, "node_modules"), found);
  }
  return found;
}

describe("installing from a clone", () => {
  it("has every install script decided in package.json, onnxruntime-node's denied, and no .npmrc", () => {
    const allow = read(join(ROOT, "package.json")).allowScripts ?? {};
    const scripted = [...withInstallScripts(join(ROOT, "node_modules"))].sort();
    expect(scripted).toContain("onnxruntime-node");
    expect(scripted.filter((name) => allow[name] === undefined)).toEqual([]);
    expect(allow["onnxruntime-node"]).toBe(false);
    expect(existsSync(join(ROOT, ".npmrc"))).toBe(false);
  });
});
