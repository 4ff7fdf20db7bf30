import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseTraceText, readRequestTrace } from "../../compiler/serving/trace-formats.js";
import { TierflowError } from "../../ir/diagnostics.js";

/** The one line the CLI prints for the error `body` raises. */
function refusal(body: () => unknown): string {
  try {
    body();
  } catch (err) {
    if (err instanceof TierflowError) return err.format();
    throw err;
  }
  throw new Error("no error was raised");
}
const expectTierflowError = (body: () => unknown, pattern: RegExp) => expect(refusal(body)).toMatch(pattern);

const DATA = join(import.meta.dirname, "..", "data", "traces");
const scratch = mkdtempSync(join(tmpdir(), "tierflow-traces-"));
const write = (name: string, text: string) => { const p = join(scratch, name); writeFileSync(p, text); return p; };

describe("trace formats", () => {
  it("reads the Azure trace as Vidur's independent conversion of it does", () => {
    const azure = readRequestTrace(join(DATA, "azure-conv-head.csv"));
    const vidur = readRequestTrace(join(DATA, "vidur-splitwise-conv-head.csv"));
    expect(azure.format).toBe("azure");
    expect(vidur.format).toBe("vidur");
    expect(azure.requests).toHaveLength(40);
    expect(vidur.requests).toHaveLength(40);
    azure.requests.forEach((r, i) => {
      const v = vidur.requests[i]!;
      expect(r.promptTokens).toBe(v.promptTokens);
      expect(r.outputTokens).toBe(v.outputTokens);
      expect(Math.abs(r.arrival - v.arrival)).toBeLessThan(1e-6);
    });
    // The first stamp is 18:15:46.6805900 and the second 18:15:50.9951690: 4.314579 s apart.
    expect(azure.requests[1]!.arrival).toBe(4.314579);
  });

  it("reads Mooncake's JSON Lines in milliseconds and says prefix caching is not modelled", () => {
    const t = readRequestTrace(join(DATA, "mooncake-conversation-head.jsonl"));
    expect(t.format).toBe("mooncake");
    expect(t.requests).toHaveLength(12);
    expect(t.requests[6]).toEqual({ arrival: 3, promptTokens: 6324, outputTokens: 548 });
    expect(t.requests.at(-1)!.arrival).toBe(9);
    expect(t.notes.join(" ")).toMatch(/12 requests carry hash_ids.*not modelled/);
  });

  it("reads BurstGPT's columns, names models, and counts the failed requests it skips", () => {
    const t = readRequestTrace(join(DATA, "burstgpt-columns.csv"));
    expect(t.format).toBe("burstgpt");
    expect(t.requests.map((r) => [r.arrival, r.expert, r.promptTokens, r.outputTokens])).toEqual([
      [5, "ChatGPT", 472, 18], [45, "ChatGPT", 1087, 230], [118, "GPT-4", 417, 276], [140, "GPT-4", 96, 41],
    ]);
    expect(t.notes).toEqual(["skipped 2 requests with 0 tokens (failed in the trace)"]);
  });

  it("reads tierflow's own JSON Lines and Vidur's optional model column", () => {
    const own = parseTraceText('{"arrival": 0.5, "prompt_tokens": 8, "output_tokens": 2, "expert": "math"}\n', "own.jsonl");
    expect(own).toEqual({ format: "tierflow", requests: [{ arrival: 0.5, promptTokens: 8, outputTokens: 2, expert: "math" }], notes: [] });
    const vidur = parseTraceText("arrived_at,num_prefill_tokens,num_decode_tokens,model\n1.5,10,3,code\n0.5,4,2,chat\n", "v.csv");
    expect(vidur.requests).toEqual([{ arrival: 0.5, promptTokens: 4, outputTokens: 2, expert: "chat" }, { arrival: 1.5, promptTokens: 10, outputTokens: 3, expert: "code" }]);
    expect(vidur.notes).toEqual(["requests were not in arrival order: sorted by arrival"]);
  });

  it("refuses a header missing a column in one line naming the column", () => {
    expectTierflowError(() => parseTraceText("TIMESTAMP,ContextTokens\n2023-11-16 18:15:46.68,374\n", "a.csv"), /^a\.csv:1: an Azure LLM trace needs a column 'GeneratedTokens'$/);
    expectTierflowError(() => parseTraceText("arrived_at,num_decode_tokens\n0,4\n", "v.csv"), /a Vidur trace needs a column 'num_prefill_tokens'/);
    expectTierflowError(() => parseTraceText("Timestamp,Model,Request tokens\n0,x,4\n", "b.csv"), /a BurstGPT trace needs a column 'Response tokens'/);
    expectTierflowError(() => parseTraceText('{"timestamp": 0, "input_length": 4}\n', "m.jsonl"), /m\.jsonl:1: a Mooncake trace needs a field 'output_length'/);
    expectTierflowError(() => parseTraceText("when,prompt,output\n0,1,1\n", "x.csv"), /x\.csv:1: not a trace tierflow reads: the header 'when,prompt,output' names none of the columns/);
    expectTierflowError(() => parseTraceText('{"t": 1}\n', "y.jsonl"), /needs 'arrival' \(tierflow's format\) or 'timestamp' \(Mooncake's\)/);
  });

  it("refuses bad values naming the line and column", () => {
    expectTierflowError(() => parseTraceText("arrived_at,num_prefill_tokens,num_decode_tokens\n0,4,2\n\n1,4,x\n", "v.csv"), /^v\.csv:4: 'num_decode_tokens' is 'x', not a whole number of tokens$/);
    expectTierflowError(() => parseTraceText("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,4,2\n", "a.csv"), /a\.csv:2: 'TIMESTAMP' is 'yesterday', not a date and time/);
    expectTierflowError(() => parseTraceText("arrived_at,num_prefill_tokens,num_decode_tokens\n-1,4,2\n", "v.csv"), /'arrived_at' is '-1', not a number of seconds >= 0/);
    expectTierflowError(() => parseTraceText("arrived_at,num_prefill_tokens,num_decode_tokens\n0,0,2\n", "v.csv"), /v\.csv:2: 'num_prefill_tokens' is 0/);
    expectTierflowError(() => parseTraceText("arrived_at,num_prefill_tokens,num_decode_tokens\n0,4\n", "v.csv"), /^v\.csv(:\d+)?: not a CSV trace: /);
    expectTierflowError(() => parseTraceText("\n\n", "e.csv"), /e\.csv: the trace is empty/);
  });

  it("reads the full Azure traces when they are at hand", () => {
    const conv = join(import.meta.dirname, "..", "..", "..", "shared", "data", "traces", "azure_llm_2023_conv.csv");
    let text: string;
    try { text = readFileSync(conv, "utf8"); } catch { return; }
    const t = parseTraceText(text, conv);
    expect(t.requests.length).toBe(text.trim().split("\n").length - 1);
    expect(t.notes).toEqual([]);
  });
});
