// Flag names mean one thing across commands: --output is always a path,
// token counts are --prompt-tokens / --output-tokens, --trace is a request
// trace (simulate, simulate-serving) and --timeline a run's Chrome trace-event timeline (run, viz).

import { describe, expect, it } from "vitest";
import { buildProgram } from "../../compiler/cli/main.js";

describe("flag names across commands", () => {
  it("agree", async () => {
    const program = await buildProgram();
    const uses = new Map<string, string[]>();
    for (const command of program.commands) {
      for (const option of command.options) {
        const name = option.long ?? "";
        uses.set(name, [...(uses.get(name) ?? []), `${command.name()}: ${option.description}`]);
        // A count of tokens is named for what it counts.
        if (/\b(tokens?|length in tokens)\b/.test(option.description) && /<n>/.test(option.flags)) expect(name, `${command.name()} ${option.flags}`).toMatch(/-tokens$|^--tokens$|^--seq$|^--requests$/);
      }
    }
    for (const use of uses.get("--output") ?? []) expect(use).toMatch(/file|folder|dir|write/i);
    for (const use of uses.get("--trace") ?? []) expect(use).toMatch(/^simulate(-serving)?: requests/);
    expect((uses.get("--timeline") ?? []).map((u) => u.split(":")[0]).sort()).toEqual(["run", "viz"]);
  });
});
