// Passes are functions from module to module, registered by a kebab-case name.
// The CLI and the library run pipelines by name (`--passes=a,b,c`).

import type { Module } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";

/** A graph-level pass: a function from module to module, registered under a kebab-case name. */
export interface Pass {
  /** The kebab-case name pipelines use ("fold-constants"). */
  readonly name: string;
  /** One line on what the pass does, as `tierflow passes` lists it. */
  readonly summary: string;
  /** Return the transformed module; the input is left as it was. */
  run(module: Module): Module;
}

const REGISTRY = new Map<string, Pass>();

/**
 * Add a pass to the registry so that pipelines can name it; returns the pass. A name that
 * is not kebab-case or is already taken throws an Error.
 *
 * @example
 * ```ts
 * import { loadModel, registerPass } from "tierflow";
 *
 * registerPass({
 *   name: "rename-module",
 *   summary: "Give the module a fixed name.",
 *   run: (module) => ({ ...module, name: "renamed" }),
 * });
 * const { module } = await loadModel("examples/models/llama-tiny.dynamo.onnx", { passes: "dce,rename-module" });
 * ```
 */
export function registerPass(pass: Pass): Pass {
  if (!/^[a-z][a-z0-9-]*$/.test(pass.name)) throw new Error(`pass name '${pass.name}' is not kebab-case`);
  if (REGISTRY.has(pass.name)) throw new Error(`pass '${pass.name}' registered twice`);
  REGISTRY.set(pass.name, pass);
  return pass;
}

/**
 * The registered pass of that name; an unknown name throws a TierflowError that lists the
 * known passes.
 *
 * @example
 * ```ts
 * import { importOnnxFile, lookupPass } from "tierflow";
 *
 * const module = lookupPass("dce").run(importOnnxFile("examples/models/llama-tiny.dynamo.onnx"));
 * ```
 */
export function lookupPass(name: string): Pass {
  const pass = REGISTRY.get(name);
  if (!pass) fail(`unknown pass '${name}' (known passes: ${[...REGISTRY.keys()].sort().join(", ")})`);
  return pass;
}

/**
 * Every registered pass, sorted by name.
 *
 * @example
 * ```ts
 * import { allPasses } from "tierflow";
 *
 * for (const pass of allPasses()) console.log(`${pass.name}: ${pass.summary}`);
 * ```
 */
export function allPasses(): Pass[] {
  return [...REGISTRY.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Parse "a,b, c" into pass names, checking each exists. */
export function parsePipeline(text: string): Pass[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (names.length === 0) fail("the pass pipeline is empty");
  return names.map(lookupPass);
}
