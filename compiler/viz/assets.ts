// The page's script and style live as plain .js/.css files in compiler/viz/app
// (browser code, not part of the TypeScript build) and are inlined into every
// page, so a plan.html opens offline from file:// with nothing beside it. The
// graph's layout is dagre's browser bundle (@dagrejs/dagre, MIT), inlined as a
// script of its own ahead of the page's, with its licence.

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const HERE = import.meta.dirname;
// Built code runs from dist/compiler/viz: the assets stay in the source tree.
const APP_DIR = existsSync(join(HERE, "app")) ? join(HERE, "app") : join(HERE, "..", "..", "..", "compiler", "viz", "app");

/** In dependency order: later files call functions the earlier ones define. */
export const SCRIPT_FILES = [
  "format.js", "dom.js", "summary.js", "controls.js", "node.js", "floorplan.js", "tiers.js",
  "timeline.js", "section-detail.js", "layout.js", "graph.js", "passes.js", "main.js",
] as const;

/** The declarations the page's script is type-checked with: the globals its libraries define. */
export const SCRIPT_DECLARATIONS = ["globals.d.ts"] as const;

/**
 * dagre's browser bundle (it defines the global `dagre`, graphlib included),
 * found from the package wherever it is installed. The bundle points to a
 * LEGAL.txt beside it for its licence; the page carries that text instead, and
 * no source map comment (the map is not in the page).
 */
export function dagreBundle(): string {
  // The package exports no subpaths but package.json: its dist/ is found beside that.
  const root = dirname(createRequire(import.meta.url).resolve("@dagrejs/dagre/package.json"));
  const bundle = readFileSync(join(root, "dist", "dagre.min.js"), "utf8");
  const legal = readFileSync(join(root, "dist", "dagre.min.js.LEGAL.txt"), "utf8");
  const code = bundle.replace(/^\/\*! For license information please see [^*]*\*\/\n?/m, "").replace(/^\/\/# sourceMappingURL=.*\n?/m, "");
  return `${legal.trim()}\n${code.trim()}`;
}

let cached: { libraries: string; script: string; style: string } | undefined;

export function appAssets(): { libraries: string; script: string; style: string } {
  cached ??= {
    libraries: dagreBundle(),
    script: SCRIPT_FILES.map((f) => `// ${f}\n${readFileSync(join(APP_DIR, f), "utf8")}`).join("\n"),
    style: readFileSync(join(APP_DIR, "style.css"), "utf8"),
  };
  return cached;
}
