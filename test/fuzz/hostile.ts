// Generators for the input classes that random mutation rarely reaches:
// prototype-named values and oversized dims in ONNX models, oversized dense
// literals in graph text, and hostile figures in targets. Each edits a seed
// input in a way a hand-edited or crafted file could.

import type { ModelProto, TensorProto, ValueInfoProto } from "../../compiler/onnx/proto.js";
import { HUGE_DIM_TEXTS, PROTO_NAMES, Rng, setOwnKey } from "./harness.js";

// ---- ONNX -------------------------------------------------------------------

const HUGE_DIMS = [2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -1, -(2 ** 31)];
const HUGE_INT64 = [2n ** 31n - 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -1n, -(2n ** 31n), -(2n ** 63n)];

/** One edit of a decoded model that gives it prototype-named names or dims at the edge of int32 and of safe integers. */
export function editOnnxHostile(rng: Rng, m: ModelProto): string {
  const g = m.graph!;
  const nodes = g.node ?? [];
  switch (rng.int(4)) {
    case 0: { // a value renamed everywhere: the model stays valid, so it must compile
      const values = [...(g.input ?? []).map((v) => v.name ?? ""), ...(g.initializer ?? []).map((t) => t.name ?? ""), ...nodes.flatMap((n) => n.output ?? [])]
        .filter((v) => v !== "");
      if (!values.length) return "no value to rename";
      const old = rng.pick(values), name = rng.pick(PROTO_NAMES);
      const rename = (v: string): string => (v === old ? name : v);
      for (const n of nodes) {
        n.input = (n.input ?? []).map(rename);
        n.output = (n.output ?? []).map(rename);
      }
      for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) if (v.name === old) v.name = name;
      for (const t of g.initializer ?? []) if (t.name === old) t.name = name;
      return `value '${old}' renamed '${name}'`;
    }
    case 1: { // node, attribute, graph and opset domain names
      for (const n of nodes) if (rng.chance(0.3)) n.name = rng.pick(PROTO_NAMES);
      const withAttributes = nodes.filter((n) => n.attribute?.length);
      if (withAttributes.length && rng.chance(0.5)) rng.pick(rng.pick(withAttributes).attribute!).name = rng.pick(PROTO_NAMES);
      if (rng.chance(0.3)) g.name = rng.pick(PROTO_NAMES);
      if (rng.chance(0.2)) m.opsetImport = [...(m.opsetImport ?? []), { domain: rng.pick(PROTO_NAMES), version: 1 }];
      return "prototype-named nodes and attributes";
    }
    case 2: { // a declared dim near 2^31 or 2^53, or negative
      const infos: ValueInfoProto[] = [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])].filter((v) => v.type?.tensorType?.shape?.dim?.length);
      if (!infos.length) return "no shape";
      const dim = rng.pick(rng.pick(infos).type!.tensorType!.shape!.dim!);
      dim.dimValue = rng.pick(HUGE_DIMS);
      dim.dimParam = "";
      return "huge declared dim";
    }
    default: { // an int64 initializer (a shape, an axis, an index) holding values near 2^31, 2^53 or 2^63
      const ints = (g.initializer ?? []).filter((t) => t.dataType === 7 && elementCount(t) <= 64);
      if (!ints.length) return "no int64 initializer";
      const t = rng.pick(ints);
      const values = BigInt64Array.from({ length: elementCount(t) }, (_, k) => (k === 0 || rng.chance(0.5) ? rng.pick(HUGE_INT64) : 1n));
      t.rawData = new Uint8Array(values.buffer);
      t.int64Data = [];
      return "huge int64 values";
    }
  }
}

function elementCount(t: TensorProto): number {
  return (t.dims ?? []).reduce<number>((n, d) => n * Number(d), 1);
}

// ---- graph text: dense literals ----------------------------------------------

/**
 * Near the limits of ir/graph/text/dense-limits.ts: 262,144 elements a literal,
 * 1,048,576 a text. Those over a limit are refused before the text is lexed;
 * one within them parses in up to about two seconds at the limit, the case
 * limit on a loaded machine, so the accepted sizes stay well below it (the
 * limit itself is tested in test/hardening/internal-errors.test.ts).
 */
const LITERAL_SIZES = [20_000, 50_000, 262_145, 262_145, 400_000, 2_000_000];

const DENSE_LINE = /^(\s*%\S+: )(\w+)\[[^\]]*\]( = dense )\[.*\]$/;

function elements(n: number, dtype: string): string {
  const one = dtype.startsWith("f") || dtype === "bf16" ? "1.5" : dtype === "bool" ? "true" : "3";
  return `[${new Array<string>(n).fill(one).join(", ")}]`;
}

/**
 * A dense literal of the graph text made oversized: hundreds of thousands of
 * elements in one literal or over several, a huge declared shape with a short
 * literal, or elements out of their type's range. Bounded so a case stays
 * fast: a text within the limits holds at most 262,144 such elements (about a
 * second to parse); larger ones must be refused on the raw text, at once.
 */
export function oversizeDense(rng: Rng, text: string): string {
  const lines = text.split("\n");
  const dense = lines.flatMap((l, i) => (DENSE_LINE.test(l) ? [i] : []));
  if (!dense.length) return text;
  const at = rng.pick(dense);
  const [, head, dtype, mid] = DENSE_LINE.exec(lines[at]!)!;
  switch (rng.int(4)) {
    case 0: { // one literal of hundreds of thousands of elements, its shape matching or not
      const n = rng.pick(LITERAL_SIZES);
      const dims = rng.pick([`${n}`, `${n}`, `${n - 1}`, `2, ${n >> 1}`, "2147483648"]);
      lines[at] = `${head}${dtype}[${dims}]${mid}${elements(n, dtype!)}`;
      break;
    }
    case 1: { // several literals, each within the limit of one, whose total is past the limit of a text
      // Five are needed to pass the limit of a text; with fewer, each is over the limit of one literal (both refused before lexing).
      const count = 5, n = dense.length >= count ? rng.pick([220_000, 262_144]) : 262_145;
      for (const i of dense.slice(0, count)) {
        const [, h, d, m] = DENSE_LINE.exec(lines[i]!)!;
        lines[i] = `${h}${d}[${n}]${m}${elements(n, d!)}`;
      }
      break;
    }
    case 2: // a huge declared shape with a short literal
      lines[at] = `${head}${dtype}[${rng.pick(HUGE_DIM_TEXTS)}${rng.chance(0.3) ? `, ${rng.pick(HUGE_DIM_TEXTS)}` : ""}]${mid}[1, 2]`;
      break;
    default: { // elements outside the type's range
      const v = rng.pick(["9223372036854775808", "-9223372036854775809", "1e39", "-1e400", "NaN", "inf", "0x7fffffff", "1e-400", "2"]);
      lines[at] = `${head}${dtype}[1]${mid}[${v}]`;
    }
  }
  return lines.join("\n");
}

// ---- targets ------------------------------------------------------------------

const TINY = 5e-324, VAST = 1e308;
/** Figures of a target (dotted paths) and the hostile values each is given. */
const TARGET_FIELDS: readonly (readonly [string, readonly number[]])[] = [
  ["compute.clockHz", [0, TINY, 1e-300, VAST, -1]],
  ["compute.units", [0, -1, 1.5, 2 ** 20, 2 ** 20 + 1, 1e9, 2 ** 53]],
  ["compute.flopsPerCycle.f32", [0, TINY, VAST, -1]],
  ["sram.units", [0, -1, 2 ** 20, 2 ** 20 + 1, 1e9]],
  ["sram.bytesPerUnit", [-1, 0, 1, 4, 2 ** 31, 2 ** 53, VAST]],
  ["sram.bandwidthPerUnit", [0, TINY, VAST]],
  ["hbm.bytes", [-1, 0, 1, 2 ** 53, VAST]],
  ["hbm.bandwidth", [TINY, VAST, 0]],
  ["ddr.bytes", [-1, 1, 2 ** 53, VAST]],
  ["ddr.bandwidth", [TINY, VAST]],
  ["host.bandwidth", [TINY, VAST]],
  ["overheads.launchSeconds", [0, TINY, VAST, -1]],
  ["overheads.sectionSwitchSeconds", [TINY, VAST]],
  ["node.sockets", [0, -1, 1, 2, 3, 64, 4096, 4097, 1e9, 2 ** 31]],
  ["node.link.bandwidth", [TINY, VAST, 0]],
  ["node.link.latencySeconds", [0, TINY, VAST]],
  ["node.loadBandwidth", [TINY, VAST]],
];

/** A node of eight sockets, as sn40l-node describes it. */
export const NODE_SECTION = { sockets: 8, link: { bandwidth: 1e11, latencySeconds: 1e-6 }, collectives: "streamed", loadBandwidth: 1e12 };

/**
 * A target with one to three figures made hostile (denormal, vast, zero,
 * negative, past a cap), or a prototype-named key, sometimes as a node of
 * sockets. Returns the document and whether to plan it over sockets.
 */
export function hostileTarget(rng: Rng, base: unknown): { target: unknown; parallel: boolean } {
  const t = structuredClone(base) as Record<string, Record<string, unknown>>;
  const node = rng.chance(0.4);
  if (node) t.node = structuredClone(NODE_SECTION);
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const [path, values] = rng.pick(TARGET_FIELDS);
    const keys = path.split(".");
    if (keys[0] === "node" && !t.node) t.node = structuredClone(NODE_SECTION);
    let obj: Record<string, unknown> = t;
    for (const key of keys.slice(0, -1)) obj = obj[key] as Record<string, unknown>;
    obj[keys.at(-1)!] = rng.pick(values);
  }
  if (rng.chance(0.15)) { // a prototype-named key where the schema allows no other
    const sections = Object.values(t).filter((v): v is Record<string, unknown> => v !== null && typeof v === "object");
    setOwnKey(rng.chance(0.5) || !sections.length ? t : rng.pick(sections), rng.pick(PROTO_NAMES), rng.pick([1, {}, "x", null]));
  }
  return { target: t, parallel: t.node !== undefined && rng.chance(0.7) };
}
