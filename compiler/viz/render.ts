// renderPlanHtml: one self-contained HTML page that shows a plan (summary,
// chip floorplan, memory tiers, timeline, graph). The plan is embedded as
// JSON, the view model beside it, the script and style inline (the graph
// layout library in a script of its own, ahead of the page's); a Content
// Security Policy forbids any network access from the page.

import type { Plan } from "../../ir/placement/plan.js";
import type { Target } from "../../targets/target.js";
import type { PassRecord } from "../passes/pipeline.js";
import { appAssets } from "./assets.js";
import { buildViewModel } from "./view-model.js";

export interface RenderOptions {
  /** A runtime trace (Chrome trace-event JSON) to show measured times beside predicted ones. */
  readonly trace?: unknown;
  /** The compile's pass and stage records (compile's `records`): the pipeline panel lists them. */
  readonly passes?: readonly PassRecord[];
}

/** JSON that is safe inside <script>: no "<" at all, so neither "</script" nor "<!--" can end or confuse it. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

/**
 * One self-contained HTML page showing a plan (summary, chip floorplan, memory tiers,
 * timeline, graph), its script and style inline and all network access forbidden, as
 * `tierflow viz` writes it; `options.trace` adds a runtime trace's measured times.
 *
 * @example
 * ```ts
 * import { writeFileSync } from "node:fs";
 * import { compile, renderPlanHtml } from "tierflow";
 *
 * const { plan, target } = await compile("examples/models/llama-tiny.dynamo.onnx", { target: "sn40l" });
 * writeFileSync("llama-tiny.html", renderPlanHtml(plan, target));
 * ```
 */
export function renderPlanHtml(plan: Plan, target: Target, options: RenderOptions = {}): string {
  const { libraries, script, style } = appAssets();
  if (/<\/script/i.test(libraries + script) || /<\/style/i.test(style)) throw new Error("viz assets must not contain a closing script or style tag");
  const view = buildViewModel(plan, target, options.trace, options.passes);
  const title = `tierflow plan: ${plan.model.file} on ${plan.target}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>${escapeHtml(title)}</title>
<style>
${style}
</style>
</head>
<body>
<noscript>This page draws the plan with JavaScript; enable it to see the plan.</noscript>
<div id="app"></div>
<script type="application/json" id="plan-data">${jsonForScript(plan)}</script>
<script type="application/json" id="view-data">${jsonForScript(view)}</script>
<script id="libraries">
${libraries}
</script>
<script>
(() => {
"use strict";
${script}
})();
</script>
</body>
</html>
`;
}
