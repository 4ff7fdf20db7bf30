// Reads the graph-level text (docs/IR-TEXT.md) into a Module. Three stages, each
// handing its first problem back as data: lexing (text/lexer.ts), the grammar
// (text/grammar.ts) and building the IR (text/build.ts); this file turns a
// problem into a TierflowError at file:line:column.

import { TierflowError, withLocation } from "../diagnostics.js";
import type { Location } from "../diagnostics.js";
import type { Module } from "./graph.js";
import { StreamedStatements, buildModule } from "./text/build.js";
import { checkDenseLiterals } from "./text/dense-limits.js";
import { parseGraphTokens } from "./text/grammar.js";
import { lexGraphText } from "./text/lexer.js";
import { positionAt, positionOfToken } from "./text/cst.js";
import type { ListType } from "./text/literals.js";

export interface ParseOptions {
  /** Named in error locations. */
  readonly file?: string;
  /**
   * The element type of an empty list attribute `[]` (the text cannot show it);
   * usually answered from the op table. Defaults to "ints".
   */
  readonly emptyListType?: (domain: string, op: string, attr: string) => ListType;
}

export function parseModule(text: string, options: ParseOptions = {}): Module {
  const where: Location = options.file === undefined ? {} : { file: options.file };
  const tooLarge = checkDenseLiterals(text);
  if (tooLarge) throw new TierflowError(tooLarge.message, { ...where, ...positionAt(text, tooLarge.offset) });
  const lexed = lexGraphText(text);
  if ("problem" in lexed) {
    throw new TierflowError(lexed.problem.message, { ...where, ...positionAt(text, lexed.problem.offset) });
  }
  const emptyListType = options.emptyListType ?? ((): ListType => "ints");
  const ctx = { text, emptyListType };
  // Statements are built as they are parsed, so a large graph's syntax trees are never all held at once.
  const streamed = new StreamedStatements(ctx);
  const parsed = parseGraphTokens(lexed.tokens, streamed);
  if ("problem" in parsed) {
    const position = positionOfToken(parsed.problem.token, lexed.tokens);
    throw new TierflowError(parsed.problem.message, { ...where, ...position });
  }
  if (!streamed.failed) return withLocation(where, () => buildModule(parsed.cst, ctx, streamed));
  // A statement did not build: build from a whole tree, which meets the errors in the order the text gives them.
  const whole = parseGraphTokens(lexed.tokens);
  if ("problem" in whole) throw new Error("internal: the graph text parsed once but not twice");
  return withLocation(where, () => buildModule(whole.cst, ctx));
}
