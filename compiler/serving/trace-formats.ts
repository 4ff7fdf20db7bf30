// Request traces in the formats serving traces are published in, read into
// tierflow's requests (arrival seconds, prompt and output tokens, and an
// expert or model name where the trace has one). The format is recognised
// from the file's first line:
//   tierflow  JSON Lines: arrival (s), prompt_tokens | prompt_ids, output_tokens, expert, second
//   mooncake  JSON Lines: timestamp (ms), input_length, output_length, hash_ids
//   vidur     CSV: arrived_at (s), num_prefill_tokens, num_decode_tokens, model (optional)
//   azure     CSV: TIMESTAMP (date and time), ContextTokens, GeneratedTokens
//             (Azure LLM inference trace 2023; Patel et al., Splitwise, ISCA 2024)
//   burstgpt  CSV: Timestamp (s), Model, Request tokens, Response tokens
// A CSV header that matches a format but lacks one of its columns is refused
// naming the column. Azure's wall-clock stamps are counted from the first
// request; the others' times are kept as written. Rows the source marks as
// failed (BurstGPT's zero response tokens) are skipped and counted in `notes`;
// fields tierflow does not model (Mooncake's prefix-cache hash_ids) are named
// there too, so nothing in a trace is dropped without a line saying so.

import { parse as parseCsv } from "csv-parse/sync";
import { fail } from "../../ir/diagnostics.js";
import { readUserText } from "../../ir/read-file.js";
import type { TraceRequest } from "../coe/trace.js";
import { MAX_TRACE_REQUESTS, parseTrace } from "../coe/trace.js";

/** The trace formats tierflow reads. */
export const TRACE_FORMATS = ["tierflow", "mooncake", "vidur", "azure", "burstgpt"] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];

/** A trace as read: its requests in arrival order, the format recognised, and what was skipped or not modelled. */
export interface ParsedTrace {
  readonly format: TraceFormat;
  readonly requests: readonly TraceRequest[];
  readonly notes: readonly string[];
}

interface CsvFormat {
  readonly format: TraceFormat;
  readonly title: string;
  readonly arrival: string;
  readonly prompt: string;
  readonly output: string;
  readonly model?: string;
  /** Seconds from the arrival column's text. */
  readonly seconds: (text: string) => number | undefined;
  /** A row whose output is 0 is a failed request in the source, not an error. */
  readonly zeroOutputIsFailure?: boolean;
}

const plainSeconds = (text: string): number | undefined => {
  const v = Number(text);
  return text.trim() !== "" && Number.isFinite(v) && v >= 0 ? v : undefined;
};

// "2023-11-16 18:17:03.9799600": UTC, any number of fraction digits (Date keeps only milliseconds).
const STAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z?$/;
function stampSeconds(text: string): number | undefined {
  const m = STAMP.exec(text.trim());
  if (!m) return undefined;
  const whole = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) / 1000;
  return Number.isFinite(whole) ? whole + (m[7] ? Number(`0.${m[7]}`) : 0) : undefined;
}

const CSV_FORMATS: readonly CsvFormat[] = [
  { format: "azure", title: "an Azure LLM trace", arrival: "TIMESTAMP", prompt: "ContextTokens", output: "GeneratedTokens", seconds: stampSeconds },
  { format: "vidur", title: "a Vidur trace", arrival: "arrived_at", prompt: "num_prefill_tokens", output: "num_decode_tokens", model: "model", seconds: plainSeconds },
  { format: "burstgpt", title: "a BurstGPT trace", arrival: "Timestamp", prompt: "Request tokens", output: "Response tokens", model: "Model", seconds: plainSeconds, zeroOutputIsFailure: true },
];

const required = (f: CsvFormat) => [f.arrival, f.prompt, f.output];

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function checkCount(file: string, line: number, column: string, text: string): number {
  const v = text.trim() === "" ? NaN : Number(text);
  if (!isCount(v)) fail(`'${column}' is '${text}', not a whole number of tokens`, { file, line });
  return v;
}

function sortByArrival(requests: TraceRequest[], notes: string[]): TraceRequest[] {
  for (let i = 1; i < requests.length; i++) {
    if (requests[i]!.arrival < requests[i - 1]!.arrival) {
      notes.push("requests were not in arrival order: sorted by arrival");
      return requests.map((r, k) => ({ r, k })).sort((a, b) => a.r.arrival - b.r.arrival || a.k - b.k).map((x) => x.r);
    }
  }
  return requests;
}

function readCsv(text: string, file: string): ParsedTrace {
  const firstLine = text.slice(0, text.indexOf("\n") < 0 ? text.length : text.indexOf("\n"));
  // Each record with the line it ends on (csv-parse skips empty lines, so the index is no line number).
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parseCsv(text, { skip_empty_lines: true, trim: true, bom: true, info: true }) as unknown as typeof rows;
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    fail(`not a CSV trace: ${(err as Error).message.replace(/\s+/g, " ")}`, line !== undefined ? { file, line } : { file });
  }
  const header = rows[0]?.record ?? [];
  const has = new Set(header);
  const scored = CSV_FORMATS.map((f) => ({ f, found: required(f).filter((c) => has.has(c)).length })).sort((a, b) => b.found - a.found);
  const best = scored[0]!;
  if (best.found === 0) {
    fail(`not a trace tierflow reads: the header '${firstLine.slice(0, 80)}' names none of the columns of ${CSV_FORMATS.map((f) => `${f.format} (${required(f).join(", ")})`).join("; ")}`, { file, line: 1 });
  }
  const f = best.f;
  const missing = required(f).find((c) => !has.has(c));
  if (missing !== undefined) fail(`${f.title} needs a column '${missing}'`, { file, line: 1 });
  if (rows.length - 1 > MAX_TRACE_REQUESTS) fail(`the trace holds ${rows.length - 1} requests, over the limit of ${MAX_TRACE_REQUESTS}`, { file });
  const col = (name: string | undefined) => (name !== undefined ? header.indexOf(name) : -1);
  const [at, promptAt, outputAt, modelAt] = [col(f.arrival), col(f.prompt), col(f.output), col(f.model)];
  const notes: string[] = [];
  let failed = 0;
  let requests: TraceRequest[] = [];
  for (let i = 1; i < rows.length; i++) {
    const row = rows[i]!.record, line = rows[i]!.info.lines;
    const seconds = f.seconds(row[at]!);
    if (seconds === undefined) fail(`'${f.arrival}' is '${row[at]}', not ${f.format === "azure" ? "a date and time (YYYY-MM-DD hh:mm:ss.fffffff)" : "a number of seconds >= 0"}`, { file, line });
    const prompt = checkCount(file, line, f.prompt, row[promptAt]!);
    const output = checkCount(file, line, f.output, row[outputAt]!);
    if (prompt === 0 || output === 0) {
      if (f.zeroOutputIsFailure) { failed++; continue; }
      fail(`'${prompt === 0 ? f.prompt : f.output}' is 0: a request needs at least one token of each`, { file, line });
    }
    const model = modelAt >= 0 ? row[modelAt] : undefined;
    requests.push({ arrival: seconds, promptTokens: prompt, outputTokens: output, ...(model ? { expert: model } : {}) });
  }
  if (failed > 0) notes.push(`skipped ${failed} request${failed === 1 ? "" : "s"} with 0 tokens (failed in the trace)`);
  requests = sortByArrival(requests, notes);
  if (f.format === "azure" && requests.length > 0) {
    const t0 = requests[0]!.arrival;
    // Microsecond steps: the stamps' own resolution, and no float noise in the output.
    requests = requests.map((r) => ({ ...r, arrival: Math.round((r.arrival - t0) * 1e6) / 1e6 }));
  }
  return { format: f.format, requests, notes };
}

function readMooncake(text: string, file: string): ParsedTrace {
  const lines = text.split("\n");
  if (lines.reduce((n, l) => (l.trim() === "" ? n : n + 1), 0) > MAX_TRACE_REQUESTS) fail(`the trace holds more than ${MAX_TRACE_REQUESTS} requests, the limit`, { file });
  let requests: TraceRequest[] = [];
  let hashed = 0;
  lines.forEach((text, i) => {
    if (text.trim() === "") return;
    const where = { file, line: i + 1 };
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      fail("not a JSON object", where);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail("not a JSON object", where);
    const o = v as Record<string, unknown>;
    for (const key of ["timestamp", "input_length", "output_length"]) if (!Object.hasOwn(o, key)) fail(`a Mooncake trace needs a field '${key}'`, where);
    if (typeof o.timestamp !== "number" || !(o.timestamp >= 0) || !Number.isFinite(o.timestamp)) fail("'timestamp' must be a number of milliseconds >= 0", where);
    if (!isCount(o.input_length) || o.input_length < 1) fail("'input_length' must be a positive whole number", where);
    if (!isCount(o.output_length) || o.output_length < 1) fail("'output_length' must be a positive whole number", where);
    if (Array.isArray(o.hash_ids) && o.hash_ids.length > 0) hashed++;
    requests.push({ arrival: o.timestamp / 1000, promptTokens: o.input_length, outputTokens: o.output_length });
  });
  const notes: string[] = [];
  if (hashed > 0) notes.push(`${hashed} request${hashed === 1 ? "" : "s"} carry hash_ids (prefix-cache blocks): prefix caching is not modelled, every prompt is prefilled in full`);
  requests = sortByArrival(requests, notes);
  return { format: "mooncake", requests, notes };
}

/**
 * Parse a request trace in any of TRACE_FORMATS, recognised from its first line. A file that
 * is none of them, lacks a column its format needs, or has a bad value throws a TierflowError
 * naming the file (and line).
 */
export function parseTraceText(text: string, file: string): ParsedTrace {
  const first = text.replace(/^\uFEFF/, "").split("\n").find((l) => l.trim() !== "")?.trim();
  if (first === undefined) fail("the trace is empty", { file });
  if (!first.startsWith("{")) return readCsv(text, file);
  let head: unknown;
  try {
    head = JSON.parse(first);
  } catch {
    fail("not a JSON object", { file, line: 1 });
  }
  const keys = typeof head === "object" && head !== null ? head : {};
  if (Object.hasOwn(keys, "arrival")) return { format: "tierflow", requests: parseTrace(text, file), notes: [] };
  if (Object.hasOwn(keys, "timestamp") || Object.hasOwn(keys, "input_length")) return readMooncake(text, file);
  fail("a JSON Lines trace needs 'arrival' (tierflow's format) or 'timestamp' (Mooncake's) in each request", { file, line: 1 });
}

/**
 * Read a request trace file in any of TRACE_FORMATS (tierflow's JSON Lines, Mooncake's JSON
 * Lines, Vidur's, Azure's or BurstGPT's CSV), recognised from its first line. A file that is
 * none of them, or breaks its format's rules, throws a TierflowError naming the file and line.
 *
 * @example
 * ```ts
 * import { readRequestTrace } from "tierflow";
 *
 * const { format, requests, notes } = readRequestTrace("AzureLLMInferenceTrace_conv.csv");
 * console.log(format, requests.length, notes); // "azure" 19366 []
 * ```
 */
export function readRequestTrace(file: string): ParsedTrace {
  return parseTraceText(readUserText(file, "trace"), file);
}
