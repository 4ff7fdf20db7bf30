// A CoE's serving page (OUT/serving.html, written by `simulate OUT/ --viz`):
// what the simulated trace did over time — request latency by arrival time,
// HBM occupancy, switches — and each expert's requests and switches, for the
// policy simulated (and, under auto, the others it tried). Plain HTML with
// inline SVG drawn here, no script, so it opens from disk beside index.html.

import type { CoePlan } from "../coe/compile-coe.js";
import type { SimResult } from "../coe/simulate.js";
import { formatBytes } from "../format.js";
import { formatSeconds } from "../report.js";

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const W = 640, H = 160, PAD = 36;

/** One SVG chart of series over [0, span] seconds; bars when `bars`, else lines. */
function chart(title: string, span: number, series: readonly { label: string; color: string; points: readonly (readonly [number, number])[] }[], format: (v: number) => string, bars = false): string {
  const max = Math.max(1e-12, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const x = (t: number) => PAD + ((W - 2 * PAD) * t) / Math.max(span, 1e-12);
  const y = (v: number) => H - PAD / 2 - ((H - PAD) * v) / max;
  const shapes = series.map((s) => {
    if (bars) {
      const width = Math.max(1, (W - 2 * PAD) / Math.max(1, s.points.length) - 1);
      return s.points.map(([t, v]) => `<rect x="${x(t).toFixed(1)}" y="${y(v).toFixed(1)}" width="${width.toFixed(1)}" height="${(H - PAD / 2 - y(v)).toFixed(1)}" fill="${s.color}"><title>${escape(`${formatSeconds(t)}: ${format(v)}`)}</title></rect>`).join("");
    }
    return `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}"/>`;
  }).join("");
  const legend = series.map((s) => `<span style="color:${s.color}">■</span> ${escape(s.label)}`).join(" ");
  return `<figure><figcaption>${escape(title)} · ${legend}</figcaption>` +
    `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escape(title)}">` +
    `<line x1="${PAD}" y1="${H - PAD / 2}" x2="${W - PAD}" y2="${H - PAD / 2}" stroke="#aab"/>` +
    `<text x="${PAD}" y="12" font-size="11">${escape(format(max))}</text><text x="${W - PAD}" y="${H - 2}" font-size="11" text-anchor="end">${escape(formatSeconds(span))}</text>` +
    `${shapes}</svg></figure>`;
}

/** The serving page of `result` (and the policies auto tried), for the trace `traceLine` describes. */
export function renderServingPage(p: CoePlan, result: SimResult, tried: readonly SimResult[], traceLine: string): string {
  const span = result.makespanSeconds;
  const bins = (b: { binSeconds: number }, values: readonly number[]) => values.map((v, i) => [i * b.binSeconds, v] as const);
  const lat = result.latencyOverTime;
  const experts = [...result.perExpert].sort((a, b) => b.requests - a.requests || b.switches - a.switches || (a.name < b.name ? -1 : 1));
  const home = new Map(p.experts.map((e) => [e.name, e.home]));
  const policyRows = (tried.length > 0 ? tried : [result]).map((r) => `<tr${r.policy === result.policy ? ' class="chosen"' : ""}><td>${r.policy}</td>` +
    `<td class="n">${formatSeconds(r.latencyP50)}</td><td class="n">${formatSeconds(r.latencyP99)}</td><td class="n">${formatSeconds(r.ttftP99)}</td><td class="n">${formatSeconds(r.tpotP99)}</td><td class="n">${r.switches}</td><td class="n">${escape(formatBytes(r.bytesMoved))}</td></tr>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tierflow CoE serving: ${escape(p.manifest.split("/").pop() ?? "")} on ${escape(p.target)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2433}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #e3e7ef;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.chosen td{font-weight:600}figure{margin:12px 0}figcaption{font-size:13px;color:#556}.cards{display:flex;gap:16px;flex-wrap:wrap}
.card{border:1px solid #e3e7ef;border-radius:6px;padding:8px 12px}.card b{display:block;font-size:18px}
</style></head><body>
<h1>Serving ${result.requests} requests on one ${escape(p.target)} node (${p.node.sockets} sockets)</h1>
<p>${escape(traceLine)} · <a href="index.html">the CoE's overview</a></p>
<div class="cards">
<div class="card">policy<b>${result.policy}</b></div>
<div class="card">p99 latency<b>${formatSeconds(result.latencyP99)}</b></div>
<div class="card">p99 time to first token<b>${formatSeconds(result.ttftP99)}</b></div>
<div class="card">switches<b>${result.switches}</b></div>
<div class="card">moved into HBM<b>${escape(formatBytes(result.bytesMoved))}</b></div>
<div class="card">HBM slots for experts<b>${result.hbmSlots}</b></div>
</div>
<h2>Over time</h2>
${chart("latency by arrival time", span, [{ label: "p50", color: "#2b6cb0", points: bins(lat, lat.p50) }, { label: "p99", color: "#c05621", points: bins(lat, lat.p99) }], formatSeconds)}
${chart("HBM occupancy", span, [{ label: "bytes in HBM", color: "#2f855a", points: result.occupancy }], formatBytes)}
${chart("switches", span, [{ label: `switches per ${formatSeconds(result.switchesOverTime.binSeconds)}`, color: "#6b46c1", points: bins(result.switchesOverTime, result.switchesOverTime.counts) }], (v) => `${Math.round(v)}`, true)}
<h2>Policies</h2>
<table><tr><th>policy</th><th>p50 latency</th><th>p99 latency</th><th>p99 TTFT</th><th>p99 TPOT</th><th>switches</th><th>moved</th></tr>
${policyRows.join("\n")}
</table>
<h2>Experts by traffic</h2>
<table><tr><th>expert</th><th>home</th><th>requests</th><th>switches in</th></tr>
${experts.map((e) => `<tr><td>${escape(e.name)}</td><td>${escape((home.get(e.name) ?? "").toUpperCase())}</td><td class="n">${e.requests}</td><td class="n">${e.switches}</td></tr>`).join("\n")}
</table>
</body></html>
`;
}
