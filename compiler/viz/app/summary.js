// The summary cards: what was compiled, for what, and how fast it is predicted to run.

function measuredSeconds(plan, view) {
  if (!view.trace || view.trace.length === 0) return undefined;
  const sections = view.trace.filter((t) => t.section !== undefined && t.kernel === undefined);
  if (sections.length > 0) return sections.reduce((sum, t) => sum + t.seconds, 0);
  return view.trace.reduce((end, t) => Math.max(end, t.start + t.seconds), 0);
}

function renderSummary(plan, view) {
  const o = plan.options, p = plan.prediction, t = view.target;
  const words = view.words;
  const devices = plan.dataflow.kernels.filter((k) => k.kind !== "view" && k.kind !== "host").length;
  const fused = Object.entries(plan.fusion);
  const load = plan.transfers.filter((x) => x.beforeSection < 0).reduce((sum, x) => sum + x.seconds, 0);
  const floorWhy = p.floorBound === "compute" ? "all FLOPs at peak" : `${words.floor.replace(" and ", " + ")} once from HBM`;
  const tokens = p.tokensPerSecond >= 1000 ? Math.round(p.tokensPerSecond).toLocaleString("en") : p.tokensPerSecond.toFixed(1);
  const card = (stat, key, value, detail) =>
    h("div", { class: "card", "data-stat": stat, title: `${key}: ${value}${detail ? ` (${detail})` : ""}` },
      h("div", { class: "k" }, key), h("div", { class: "v" }, value), h("div", { class: "d" }, detail || "\u00a0"));
  // Two rows: what was compiled above, how fast it is predicted to run below.
  const cards = [
    card("model", "Model", plan.model.file, words.tokens
      ? `${o.phase} · batch ${o.batch} · ${o.phase === "decode" ? "context" : "prompt"} ${o.seq} · ${o.dtype}`
      : `batch ${o.batch} ${words.items} · ${o.dtype}`),
    view.parallel
      ? card("target", "Target", `${t.name} · ${view.parallel.layout}`, `${view.parallel.sockets} sockets · each in the node panel below`)
      : card("target", "Target", t.name, `${t.execution} · ${t.compute.units} CU · ${t.sram.units} MU`),
    card("opt", "Optimisation", `-O${o.opt}`, fused.length ? fused.map(([k, v]) => `${shortOp(k)} ${v}`).join(" · ") : "no fused ops"),
    card("kernels", "Kernels", String(plan.dataflow.kernels.length), `${devices} on the device`),
    card("latency", "Predicted", formatSeconds(p.seconds), `${words.per} · ${tokens} ${words.items}/s`),
    card("floor", "Floor", formatSeconds(p.floorSeconds), floorWhy),
    card("ratio", "Ratio to floor", `${p.ratioToFloor.toFixed(2)}×`, "predicted ÷ floor"),
    card("sections", "Sections", String(plan.sections.length), load > 0 ? `+ ${formatSeconds(load)} weight load` : ""),
  ];
  const measured = measuredSeconds(plan, view);
  if (measured !== undefined) {
    // A run on another machine than the plan's target (the CPU reference backend) is no measure of the prediction: no ratio.
    const onTarget = view.measuredOn === null;
    cards.splice(7, 0, card("measured", onTarget ? "Measured" : `Measured on ${view.measuredOn}`, formatSeconds(measured),
      onTarget ? `${(measured / p.seconds).toFixed(2)}× predicted · ${view.trace.length} spans` : `not ${t.name}: no ratio to the prediction · ${view.trace.length} spans`));
  }
  return h("section", { class: "cards", id: "summary", style: `--cols:${Math.ceil(cards.length / 2)}` }, cards);
}
