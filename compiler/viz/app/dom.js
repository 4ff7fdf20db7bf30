// Small DOM helpers. Text from the plan (tensor and node names come from the
// model file) only ever goes in through textContent, never as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
}

function append(node, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** An HTML element: h("div", { class: "x", onclick: f }, "text", child). */
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

/** An SVG element, same shape as h(). */
function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function panel(id, title, sub) {
  const subtitle = h("span", { class: "sub" }, sub || "");
  const head = h("div", { class: "panel-head" }, h("h2", {}, title), subtitle);
  const root = h("section", { class: "panel", id });
  root.append(head);
  return { root, head, subtitle };
}

/** A canvas drawn at the screen's pixel density; returns its 2D context in CSS pixels. */
function sizeCanvas(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(width * dpr));
  canvas.height = Math.max(1, Math.round(height * dpr));
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

function tooltipNode() {
  let tip = document.getElementById("tooltip");
  if (!tip) { tip = h("div", { id: "tooltip", role: "tooltip" }); document.body.append(tip); }
  return tip;
}

/** Show lines of text by the pointer; the first line is the title. */
function showTip(event, lines) {
  const tip = tooltipNode();
  tip.replaceChildren(...lines.filter(Boolean).map((l) => h("div", {}, l)));
  tip.style.display = "block";
  const pad = 14, w = tip.offsetWidth, hgt = tip.offsetHeight;
  const x = event.clientX + pad + w > window.innerWidth ? event.clientX - pad - w : event.clientX + pad;
  const y = event.clientY + pad + hgt > window.innerHeight ? event.clientY - pad - hgt : event.clientY + pad;
  tip.style.left = `${Math.max(4, x)}px`;
  tip.style.top = `${Math.max(4, y)}px`;
}

function hideTip() {
  tooltipNode().style.display = "none";
}

let measureContext;
/** Width of a text in the page's font, for sizing graph nodes before they exist. */
function textWidth(text, font = "12px system-ui") {
  measureContext ??= document.createElement("canvas").getContext("2d");
  measureContext.font = font;
  return measureContext.measureText(text).width;
}

/** The longest prefix of text (with an ellipsis) that fits in maxWidth pixels. */
function clipText(text, maxWidth, font) {
  if (textWidth(text, font) <= maxWidth) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (textWidth(`${text.slice(0, mid)}…`, font) <= maxWidth) lo = mid; else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}

/** Binary search: index of the last element of a sorted array whose key is <= value, or -1. */
function findLast(sorted, value, key) {
  let lo = 0, hi = sorted.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (key(sorted[mid]) <= value) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}
