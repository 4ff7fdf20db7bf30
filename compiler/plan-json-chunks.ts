// plan.json in pieces: the text planToJson writes (JSON.stringify with one
// space of indent), produced a top-level field or an array element at a time,
// so a plan of hundreds of thousands of kernels is written without holding its
// whole text (hundreds of MB) in memory at once.

import type { Plan } from "../ir/placement/plan.js";

/** Arrays longer than this are written an element at a time; smaller values in one piece. */
const SPLIT = 256;

/**
 * JSON.stringify(value, null, 1) of a value nested `depth` levels deep: its lines indented by depth.
 * JSON.stringify indents it itself when it sits inside `depth` arrays, which are cut off again,
 * so the text is not copied a second time to indent it.
 */
function nested(value: unknown, depth: number): string {
  if (depth === 0) return JSON.stringify(value, null, 1);
  let wrapped: unknown = value;
  for (let i = 0; i < depth; i++) wrapped = [wrapped];
  const text = JSON.stringify(wrapped, null, 1);
  return text.slice(wrapperOpening(depth), text.length - wrapperClosing(depth));
}

/**
 * The elements of an array nested `depth` levels deep as JSON.stringify writes them between
 * its brackets: each on a new line, indented, separated by commas (undefined, functions and
 * symbols written as null).
 */
function elementsOf(run: readonly unknown[], depth: number): string {
  const text = nested(run, depth);
  return text.slice(1, text.length - depth - 2);
}

/** Characters before the value in JSON.stringify(wrapped, null, 1): "[\n" and the next level's indent, per level. */
const wrapperOpening = (depth: number): number => depth * 2 + (depth * (depth + 1)) / 2;

/** Characters after the value: "\n", the level's indent and "]", per level. */
const wrapperClosing = (depth: number): number => depth * 2 + (depth * (depth - 1)) / 2;

function* pieces(value: unknown, depth: number): Generator<string> {
  const pad = " ".repeat(depth + 1), close = " ".repeat(depth);
  if (Array.isArray(value) && value.length > SPLIT) {
    yield "[";
    // Runs of up to SPLIT small elements (kernels, tensors, allocations) are one piece: one
    // JSON.stringify of the run, which indents and separates them as the whole array would.
    let start = 0;
    for (let i = 0; i <= value.length; i++) {
      const long = i < value.length && Array.isArray(value[i]) && (value[i] as unknown[]).length > SPLIT;
      if (i > start && (long || i === value.length || i - start === SPLIT)) {
        yield `${start > 0 ? "," : ""}${elementsOf(value.slice(start, i), depth)}`;
        start = i;
      }
      if (long) {
        yield `${i > 0 ? "," : ""}\n${pad}`;
        yield* pieces(value[i], depth + 1);
        start = i + 1;
      }
    }
    yield `\n${close}]`;
    return;
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON !== "function") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== "function" && typeof v !== "symbol");
    if (entries.length === 0) { yield "{}"; return; }
    yield "{";
    for (let i = 0; i < entries.length; i++) {
      const [key, v] = entries[i]!;
      yield `${i > 0 ? "," : ""}\n${pad}${JSON.stringify(key)}: `;
      yield* pieces(v, depth + 1);
    }
    yield `\n${close}}`;
    return;
  }
  yield nested(value, depth);
}

/** planToJson's text, in pieces: their concatenation is exactly `${JSON.stringify(plan, null, 1)}\n`. */
export function* planJsonChunks(plan: Plan): Generator<string> {
  yield* pieces(plan, 0);
  yield "\n";
}
