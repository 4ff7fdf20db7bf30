// Passes are functions from module to module, registered by a kebab-case name.
// The CLI and the library run pipelines by name (`--passes=a,b,c`).

import type { Module } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";

export interface Pass {
  readonly name: string;
  readonly summary: string;
  run(module: Module): Module;
}

const REGISTRY = new Map<string, Pass>();

export function registerPass(pass: Pass): Pass {
  if (!/^[a-z][a-z0-9-]*$/.test(pass.name)) throw new Error(`pass name '${pass.name}' is not kebab-case`);
  if (REGISTRY.has(pass.name)) throw new Error(`pass '${pass.name}' registered twice`);
  REGISTRY.set(pass.name, pass);
  return pass;
}

export function lookupPass(name: string): Pass {
  const pass = REGISTRY.get(name);
  if (!pass) fail(`unknown pass '${name}' (known passes: ${[...REGISTRY.keys()].sort().join(", ")})`);
  return pass;
}

export function allPasses(): Pass[] {
  return [...REGISTRY.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Parse "a,b, c" into pass names, checking each exists. */
export function parsePipeline(text: string): Pass[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (names.length === 0) fail("the pass pipeline is empty");
  return names.map(lookupPass);
}
