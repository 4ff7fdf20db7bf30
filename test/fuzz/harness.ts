// A small seeded mutation fuzzer. Each case i of a run draws from its own
// generator seeded by (seed, i), so any failing case replays alone. An input
// must either work or raise a TierflowError; any other exception, a case that
// runs past its time limit, or heap growth beyond the stated limit is a defect.
// Hangs cannot be interrupted in-process: run-long.ts writes the case about to
// run to a progress file, so a case that never returns can be replayed.

import { writeFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { TierflowError } from "../../ir/diagnostics.js";
import { seededRandom } from "../../compiler/seeded-random.js";

/** The project's seeded generator with helpers for choosing mutations. */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

// ---- mutators ---------------------------------------------------------------

/** Values that break assumptions: zero, negative, boundary and huge. */
export const INTERESTING_NUMBERS = [0, -1, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 1e9, 1e18, -(2 ** 31), 1.5, NaN, Infinity];

/** Names that Object.prototype also has: as keys or value names they must stay ordinary names. */
export const PROTO_NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "__defineGetter__"] as const;

/** Dims (as text) at the edges of int32, of safe integers and below zero. */
export const HUGE_DIM_TEXTS = ["2147483647", "2147483648", "4294967295", "4294967296", "9007199254740991", "9007199254740992",
  "9007199254740993", "18446744073709551616", "-1", "-2147483648", "-9007199254740993"];

/**
 * An own, enumerable key, `__proto__` included (plain assignment of `__proto__`
 * would set the prototype instead), so JSON.stringify writes it.
 */
export function setOwnKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Byte-level mutations: flips, random bytes, truncation, splices, huge varints. */
export function mutateBytes(rng: Rng, input: Uint8Array, steps = 1 + rng.int(4)): Uint8Array {
  let b: Uint8Array = new Uint8Array(input);
  for (let s = 0; s < steps; s++) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(8)) {
      case 0: if (b.length) b[at] = b[at]! ^ (1 << rng.int(8)); break;
      case 1: if (b.length) b[at] = rng.int(256); break;
      case 2: b = b.slice(0, at); break;
      case 3: { // delete a range
        const n = 1 + rng.int(Math.min(64, Math.max(1, b.length - at)));
        b = concat(b.slice(0, at), b.slice(at + n));
        break;
      }
      case 4: { // duplicate a range
        const n = 1 + rng.int(64);
        b = concat(b.slice(0, at), b.slice(at, at + n), b.slice(at));
        break;
      }
      case 5: // a huge varint (a length or dim of ~2^63)
        b = concat(b.slice(0, at), Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), b.slice(at + 1));
        break;
      case 6: // boundary bytes
        if (b.length) b[at] = rng.pick([0x00, 0x7f, 0x80, 0xff]);
        break;
      default: { // random bytes inserted
        const n = 1 + rng.int(16);
        b = concat(b.slice(0, at), Uint8Array.from({ length: n }, () => rng.int(256)), b.slice(at));
      }
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const TEXT_TOKENS = ["(", ")", "[", "]", "{", "}", "<", ">", ",", ":", "=", "%", "@", "\"", "-", "x", "?", "\n", "#", "\\", "0", "-1",
  "99999999999999999999", "1e309", "NaN", "f32", "i64", "bf16", "\u0000", "\u00e9", "\ud800"];

/** Text mutations: token and line edits, huge numbers, deep nesting, truncation. */
export function mutateText(rng: Rng, text: string, steps = 1 + rng.int(3)): string {
  let t = text;
  for (let s = 0; s < steps; s++) {
    const at = rng.int(t.length + 1);
    switch (rng.int(11)) {
      case 0: t = t.slice(0, at) + rng.pick(TEXT_TOKENS) + t.slice(at); break;
      case 1: t = t.slice(0, at) + t.slice(at + 1 + rng.int(20)); break;
      case 2: t = t.slice(0, at); break;
      case 3: { // duplicate a line
        const lines = t.split("\n");
        const i = rng.int(lines.length);
        lines.splice(rng.int(lines.length), 0, lines[i]!);
        t = lines.join("\n");
        break;
      }
      case 4: { // swap two lines (uses before definitions, cycles)
        const lines = t.split("\n");
        const i = rng.int(lines.length), j = rng.int(lines.length);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        t = lines.join("\n");
        break;
      }
      case 5: { // a number replaced by an interesting one
        const nums = [...t.matchAll(/\d+/g)];
        if (nums.length) {
          const m = rng.pick(nums);
          const v = rng.pick(["0", "-1", "4294967296", "9007199254740993", "1000000000", "99999999999999999999999", "1e999"]);
          t = t.slice(0, m.index) + v + t.slice(m.index + m[0].length);
        }
        break;
      }
      case 6: { // an identifier replaced by another one from the text (duplicate names, dangling uses)
        const ids = [...t.matchAll(/%[A-Za-z0-9_.]+|\b[a-z_][A-Za-z0-9_]*/g)];
        if (ids.length > 1) {
          const m = rng.pick(ids);
          t = t.slice(0, m.index) + rng.pick(ids)[0] + t.slice(m.index + m[0].length);
        }
        break;
      }
      case 9: t = renameToProtoName(rng, t); break;
      case 10: { // a dim inside a type's brackets at the edge of int32 or of safe integers, or negative
        const dims = [...t.matchAll(/(?<=[\[,]\s*)\d+(?=\s*[\],])/g)];
        if (dims.length) {
          const m = rng.pick(dims);
          t = t.slice(0, m.index) + rng.pick(HUGE_DIM_TEXTS) + t.slice(m.index + m[0].length);
        }
        break;
      }
      case 7: { // deep nesting
        const depth = rng.pick([50, 1000, 20000]);
        const open = rng.pick(["(", "[", "{"]), close = { "(": ")", "[": "]", "{": "}" }[open]!;
        t = t.slice(0, at) + open.repeat(depth) + "1" + close.repeat(depth) + t.slice(at);
        break;
      }
      default: { // a byte-level flip of one character
        if (t.length) t = t.slice(0, at) + String.fromCharCode(t.charCodeAt(Math.min(at, t.length - 1)) ^ (1 << rng.int(7))) + t.slice(at + 1);
      }
    }
  }
  return t;
}

// A value or symbol name (`%x`, `@g`), not followed by more of a name; `%x:` before a type counts.
const SIGIL_NAME = /[%@][A-Za-z0-9_.$/-](?:[A-Za-z0-9_.$:/-]*[A-Za-z0-9_.$/-])?/g;

/**
 * One `%name` or `@name` renamed everywhere to a prototype-named one (such a
 * text must still read back, verify and compile), or one bare identifier
 * (an attribute, op or opset name) replaced by a prototype name.
 */
export function renameToProtoName(rng: Rng, t: string): string {
  const proto = rng.pick(PROTO_NAMES);
  const names = [...new Set([...t.matchAll(SIGIL_NAME)].map((m) => m[0]))];
  if (names.length && rng.chance(0.75)) {
    const old = rng.pick(names);
    const escaped = old.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    return t.replace(new RegExp(`${escaped}(?![A-Za-z0-9_.$/-]|:[A-Za-z0-9_.$/:-])`, "g"), old[0] + proto);
  }
  const ids = [...t.matchAll(/\b[a-z_][A-Za-z0-9_]*\b/g)];
  if (!ids.length) return t;
  const m = rng.pick(ids);
  return t.slice(0, m.index) + proto + t.slice(m.index + m[0].length);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function randomJson(rng: Rng, like: Json): Json {
  switch (rng.int(10)) {
    case 9: return rng.pick(PROTO_NAMES);
    case 0: return null;
    case 1: return rng.pick(INTERESTING_NUMBERS.filter(Number.isFinite));
    case 2: return -1 - rng.int(100);
    case 3: return rng.pick(["", "../../etc/passwd", "/abs/path", "C:\\x", "sn40l", "__proto__", "x".repeat(1000)]);
    case 4: return Array.isArray(like) ? [] : {};
    case 5: return true;
    case 6: { let v: Json = 1; for (let i = 0; i < rng.pick([10, 5000]); i++) v = [v]; return v; }
    case 7: return typeof like === "number" ? like * rng.pick([0, -1, 1e6, 1e12]) : like;
    default: // (an object may carry a prototype-named key such as toString, so it is not passed to String)
      if (Array.isArray(like)) return like.length ? [...like, ...like] : "";
      return like !== null && typeof like === "object" ? "[object Object]" : String(like);
  }
}

/** Structural JSON mutations: a value somewhere replaced, a key removed or renamed, an array element duplicated. */
export function mutateJson(rng: Rng, doc: Json, steps = 1 + rng.int(3)): Json {
  let root = structuredClone(doc);
  for (let s = 0; s < steps; s++) {
    // walk to a random container
    let parent: Json = root;
    for (let d = 0; d < 12; d++) {
      const keys = childKeys(parent);
      if (!keys.length) break;
      const k = rng.pick(keys);
      const child = (parent as Record<string, Json>)[k]!;
      if (child === null || typeof child !== "object" || rng.chance(0.25)) break;
      parent = child;
    }
    const keys = childKeys(parent);
    if (!keys.length) {
      root = randomJson(rng, root);
      continue;
    }
    const k = rng.pick(keys);
    const obj = parent as Record<string, Json>;
    switch (rng.int(5)) {
      case 0: if (Array.isArray(parent)) parent.splice(Number(k), 1); else delete obj[k]; break;
      case 4: { // a prototype-named key beside the others, or in place of one
        if (Array.isArray(parent)) { parent.splice(Number(k), 0, rng.pick(PROTO_NAMES)); break; }
        const value = rng.chance(0.5) ? obj[k]! : randomJson(rng, obj[k]!);
        if (rng.chance(0.5)) delete obj[k];
        setOwnKey(obj, rng.pick(PROTO_NAMES), value);
        break;
      }
      case 1: if (Array.isArray(parent)) parent.splice(Number(k), 0, structuredClone(parent[Number(k)]!)); else obj[`${k}_`] = obj[k]!; break;
      default: obj[k] = randomJson(rng, obj[k]!);
    }
  }
  return root;
}

function childKeys(v: Json): string[] {
  if (Array.isArray(v)) return v.map((_, i) => String(i));
  if (v !== null && typeof v === "object") return Object.keys(v);
  return [];
}

// ---- the runner -------------------------------------------------------------

export interface Defect {
  readonly kind: string;
  readonly index: number;
  readonly seed: number;
  readonly problem: string;
}

export interface FuzzStats {
  kind: string;
  tried: number;
  worked: number;
  diagnosed: number;
  defects: Defect[];
  /** Largest heap growth (MiB) seen across batches. */
  heapGrowthMiB: number;
  slowestMs: number;
}

export interface FuzzOptions<I> {
  readonly kind: string;
  readonly seed: number;
  /** The first case to run (earlier ones are skipped, not tried): a replay or a resumed run. */
  readonly first?: number;
  /** Stop after this many cases... */
  readonly count: number;
  /** ...or after this many milliseconds, whichever comes first. */
  readonly budgetMs: number;
  /** A case slower than this is a defect (a near-hang). */
  readonly caseLimitMs?: number;
  /** Heap growth over the whole run beyond this is a defect (leaks, unbounded caches). */
  readonly heapLimitMiB?: number;
  /** The file run-long.ts keeps the case about to run in. */
  readonly progressFile?: string;
  readonly generate: (rng: Rng, index: number) => I;
  readonly check: (input: I) => void | Promise<void>;
}

const MiB = 1024 * 1024;

// A full collection before each heap reading, so that growth means retained memory.
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

function heapUsed(): number {
  collect();
  return process.memoryUsage().heapUsed;
}

/** Classify an exception: undefined when it is the diagnostic a bad input should get. */
export function defectOf(err: unknown): string | undefined {
  if (err instanceof TierflowError) return undefined;
  if (err instanceof Error) return `${err.name}: ${err.message.slice(0, 200)}\n${(err.stack ?? "").split("\n").slice(1, 4).join("\n")}`;
  return `non-Error thrown: ${String(err)}`;
}

export async function fuzz<I>(o: FuzzOptions<I>): Promise<FuzzStats> {
  const stats: FuzzStats = { kind: o.kind, tried: 0, worked: 0, diagnosed: 0, defects: [], heapGrowthMiB: 0, slowestMs: 0 };
  const caseLimit = o.caseLimitMs ?? 2000, heapLimit = o.heapLimitMiB ?? 256;
  const start = Date.now();
  const heap0 = heapUsed();
  for (let i = o.first ?? 0; i < o.count && Date.now() - start < o.budgetMs; i++) {
    const seed = caseSeed(o.seed, i);
    if (o.progressFile) writeFileSync(o.progressFile, `${o.kind} seed=${o.seed} case=${i}\n`);
    const t0 = performance.now();
    stats.tried++;
    try {
      await o.check(o.generate(new Rng(seed), i));
      stats.worked++;
    } catch (err) {
      const problem = defectOf(err);
      if (problem === undefined) stats.diagnosed++;
      else stats.defects.push({ kind: o.kind, index: i, seed: o.seed, problem });
    }
    const ms = performance.now() - t0;
    stats.slowestMs = Math.max(stats.slowestMs, ms);
    if (ms > caseLimit) stats.defects.push({ kind: o.kind, index: i, seed: o.seed, problem: `took ${ms.toFixed(0)} ms (limit ${caseLimit} ms)` });
    if (i % 50 === 49) {
      const growth = (heapUsed() - heap0) / MiB;
      stats.heapGrowthMiB = Math.max(stats.heapGrowthMiB, growth);
    }
  }
  const growth = (heapUsed() - heap0) / MiB;
  stats.heapGrowthMiB = Math.max(stats.heapGrowthMiB, growth);
  if (stats.heapGrowthMiB > heapLimit) {
    stats.defects.push({ kind: o.kind, index: -1, seed: o.seed, problem: `heap grew by ${stats.heapGrowthMiB.toFixed(0)} MiB (limit ${heapLimit} MiB)` });
  }
  return stats;
}

export function summarise(s: FuzzStats): string {
  return `${s.kind}: ${s.tried} inputs, ${s.worked} worked, ${s.diagnosed} diagnosed, ${s.defects.length} defects, heap +${s.heapGrowthMiB.toFixed(1)} MiB, slowest ${s.slowestMs.toFixed(0)} ms`;
}
