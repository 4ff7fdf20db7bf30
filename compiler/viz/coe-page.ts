// A CoE's overview page (OUT/index.html, written by `compile MANIFEST --viz`):
// where each expert lives (HBM, pinned, or DDR, copied in on a switch) and what
// a switch costs, the memory the residency plan splits, each compiled graph's
// times, and links to every plan's own page. Plain HTML and CSS, no script:
// it opens from disk like the plan pages it ties together.

import type { CoePlan } from "../coe/compile-coe.js";
import { formatBytes } from "../format.js";
import { formatSeconds } from "../report.js";

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** `plans`: each plan's path relative to OUT/ (router/plan.json, graphs/<id>/prefill.plan.json, ...); their pages sit beside them. */
export function renderCoePage(p: CoePlan, plans: readonly string[], serving?: { page: string; p99: number; policy: string }): string {
  const page = (plan: string) => plan.replace(/\.json$/, ".html");
  const link = (plan: string, text: string) => `<a href="${escape(page(plan))}">${escape(text)}</a>`;
  const pinned = p.experts.filter((e) => e.home === "hbm").length;
  const graphRows = p.graphs.map((g) => {
    const own = plans.filter((x) => x.startsWith(`graphs/${g.id}/`));
    return `<tr><td>${escape(g.id)}</td><td>${escape(g.file)}</td><td>${escape(g.layout ?? "one socket")}</td><td class="n">${escape(formatBytes(g.weightBytes))}</td>` +
      `<td class="n">${escape(formatSeconds(g.prefillSeconds))}</td><td class="n">${escape(formatSeconds(g.decodeSeconds))}</td><td>${own.map((x) => link(x, x.split("/").pop()!.replace(/\.plan\.json$/, ""))).join(" · ")}</td></tr>`;
  });
  const expertRows = p.experts.map((e) => `<tr class="${e.home}"><td>${escape(e.name)}</td><td>${escape(e.graph)}</td><td>${e.home === "hbm" ? "HBM (pinned)" : escape(e.home.toUpperCase())}</td>` +
    `<td class="n">${escape(formatBytes(e.bytes))}</td><td class="n">${e.share > 0 ? (100 * e.share).toFixed(1) + "%" : "–"}</td><td class="n">${e.home === "hbm" ? "none" : escape(formatSeconds(e.switchSeconds))}</td></tr>`);
  const r = p.residency;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tierflow CoE: ${escape(p.manifest.split("/").pop() ?? "")} on ${escape(p.target)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2433}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #e3e7ef;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.hbm td:nth-child(3){color:#1b7f4b;font-weight:600}tr.ddr td:nth-child(3){color:#9a5b00}.cards{display:flex;gap:16px;flex-wrap:wrap}
.card{border:1px solid #e3e7ef;border-radius:6px;padding:8px 12px}.card b{display:block;font-size:18px}
</style></head><body>
<h1>Composition of Experts on one ${escape(p.target)} node (${p.node.sockets} sockets)</h1>
<div class="cards">
<div class="card">experts<b>${p.experts.length}</b></div>
<div class="card">pinned in HBM<b>${pinned}</b></div>
<div class="card">in DDR, copied on a switch<b>${p.experts.length - pinned}</b></div>
<div class="card">HBM for experts<b>${escape(formatBytes(r.activeRegionBytes + r.pinnedBytes))}</b></div>
<div class="card">router<b>${link(p.router.plan, formatSeconds(p.router.seconds))}</b></div>
${serving ? `<div class="card">serving: p99 latency (${escape(serving.policy)})<b><a href="${escape(serving.page)}">${escape(formatSeconds(serving.p99))}</a></b></div>` : ""}
</div>
<p>${p.node.notes.map(escape).join("<br>")}</p>
<h2>Compiled graphs</h2>
<table><tr><th>id</th><th>graph</th><th>layout</th><th>weights</th><th>prefill (${p.options.seq} tokens)</th><th>decode step</th><th>plans</th></tr>
${graphRows.join("\n")}
</table>
<h2>Experts</h2>
<p><code>tierflow simulate OUT/ --viz</code> serves requests over these homes under each residency policy${serving ? `; its last run is <a href="${escape(serving.page)}">here</a>, with switches and traffic per expert over time` : " and draws it beside this page"}.</p>
<table><tr><th>expert</th><th>graph</th><th>home</th><th>weights</th><th>share</th><th>switch</th></tr>
${expertRows.join("\n")}
</table>
</body></html>
`;
}
