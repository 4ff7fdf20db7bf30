// The pipeline panel: every pass and stage the compile ran, in order, and where the compile
// recorded IR (--print-ir-after-all), the text before and after each. No times: a page is the
// same for the same input (--time-passes prints them).

function renderPasses(view) {
  const runs = view.passes || [];
  const p = panel("passes-panel", "Pipeline", runs.length
    ? `${runs.length} passes and stages${runs.some((r) => r.after !== undefined) ? "" : " · compile with --print-ir-after-all to see the IR after each"}`
    : "the passes were not recorded");
  const rows = runs.map((r, i) => {
    const row = h("li", { class: "pass", "data-pass": r.pass },
      h("span", { class: "pass-name" }, `${i + 1}. ${r.pass}`));
    if (r.after !== undefined) {
      row.append(h("details", {}, h("summary", {}, r.before !== undefined ? "IR before and after" : "IR after"),
        r.before !== undefined ? h("pre", { class: "ir before" }, r.before) : null, h("pre", { class: "ir after" }, r.after)));
    }
    return row;
  });
  p.root.append(h("ol", { class: "pass-list" }, ...rows));
  return p.root;
}
