// The page's script and style live as plain .js/.css files in compiler/viz/app
// (browser code, not part of the TypeScript build) and are inlined into every
// page, so a plan.html opens offline from file:// with nothing beside it.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const HERE = import.meta.dirname;
// Built code runs from dist/compiler/viz: the assets stay in the source tree.
const APP_DIR = existsSync(join(HERE, "app")) ? join(HERE, "app") : join(HERE, "..", "..", "..", "compiler", "viz", "app");

/** In dependency order: later files call functions the earlier ones define. */
export const SCRIPT_FILES = [
  "format.js", "dom.js", "summary.js", "controls.js", "floorplan.js", "tiers.js",
  "timeline.js", "section-detail.js", "layout.js", "graph.js", "main.js",
] as const;

let cached: { script: string; style: string } | undefined;

export function appAssets(): { script: string; style: string } {
  cached ??= {
    script: SCRIPT_FILES.map((f) => `// ${f}\n${readFileSync(join(APP_DIR, f), "utf8")}`).join("\n"),
    style: readFileSync(join(APP_DIR, "style.css"), "utf8"),
  };
  return cached;
}
