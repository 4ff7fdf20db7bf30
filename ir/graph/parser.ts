// Reads the graph-level text (docs/IR-TEXT.md) into a Module. Three stages, each
// handing its first problem back as data: lexing (text/lexer.ts), the grammar
// (text/grammar.ts) and building the IR (text/build.ts); this file turns a
// problem into a TierflowError at file:line:column.

import { TierflowError, withLocation } from "../diagnostics.js";
import type { Location } from "../diagnostics.js";
import type { Module } from "./graph.js";
import { buildModule } from "./text/build.js";
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
  const parsed = parseGraphTokens(lexed.tokens);
  if ("problem" in parsed) {
    const position = positionOfToken(parsed.problem.token, lexed.tokens);
    throw new TierflowError(parsed.problem.message, { ...where, ...position });
  }
  const emptyListType = options.emptyListType ?? ((): ListType => "ints");
  return withLocation(where, () => buildModule(parsed.cst, { text, emptyListType }));
}
