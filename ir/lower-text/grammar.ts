// The grammar shared by the dataflow and placement texts, as a chevrotain
// CstParser. Like MLIR's generic op form it knows one statement shape only:
//
//   keyword head-item* {attr = value, ...}? { statement* }?
//
// where a head item is a reference (%t, @k), a string, '->', a reference list
// (%a, %b) or a type annotation `: bf16[2, 3]`. Which keywords exist and which
// head items each takes is the business of the level's builder (ir/*/text.ts),
// so the rules hold no semantics at all.

import { CstParser, EOF } from "../chevrotain.js";
import type { CstNode, IParserErrorMessageProvider, IRecognitionException, IToken, TokenType } from "chevrotain";
import * as T from "./lexer.js";

class LowerTextGrammar extends CstParser {
  constructor() {
    super(T.ALL_TOKENS, { errorMessageProvider: plainMessages, maxLookahead: 3, nodeLocationTracking: "onlyOffset" });
    this.performSelfAnalysis();
  }

  document = this.RULE("document", () => {
    this.MANY(() => this.SUBRULE(this.statement));
  });

  statement = this.RULE("statement", () => {
    this.CONSUME(T.Identifier, { LABEL: "keyword" });
    this.MANY(() => this.SUBRULE(this.headItem));
    // Attributes and a block both open with '{'. Attributes start `{ key =` or are
    // empty (`{}`); a block starts with a keyword, never followed by '='.
    this.OPTION({
      GATE: () => this.LA(2).tokenType === T.RBrace || this.LA(3).tokenType === T.Equals,
      DEF: () => this.SUBRULE(this.dict, { LABEL: "attrs" }),
    });
    this.OPTION2(() => this.SUBRULE(this.block));
  });

  headItem = this.RULE("headItem", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Reference) },
      { ALT: () => this.CONSUME(T.StringLit) },
      { ALT: () => this.CONSUME(T.Arrow) },
      { ALT: () => this.SUBRULE(this.referenceList) },
      { ALT: () => this.SUBRULE(this.typeAnnotation) },
    ]);
  });

  referenceList = this.RULE("referenceList", () => {
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.CONSUME(T.Reference) });
    this.CONSUME(T.RParen);
  });

  typeAnnotation = this.RULE("typeAnnotation", () => {
    this.CONSUME(T.Colon);
    this.CONSUME(T.Identifier, { LABEL: "dtype" });
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.CONSUME(T.NumberLit, { LABEL: "dims" }) });
    this.CONSUME(T.RBracket);
  });

  block = this.RULE("block", () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.statement));
    this.CONSUME(T.RBrace);
  });

  dict = this.RULE("dict", () => {
    this.CONSUME(T.LBrace);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.entry) });
    this.CONSUME(T.RBrace);
  });

  entry = this.RULE("entry", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier, { LABEL: "key" }) },
      { ALT: () => this.CONSUME(T.StringLit, { LABEL: "key" }) },
      { ALT: () => this.CONSUME(T.Reference, { LABEL: "key" }) },
    ]);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.value);
  });

  value = this.RULE("value", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLit, { LABEL: "scalar" }) },
      { ALT: () => this.CONSUME(T.StringLit, { LABEL: "scalar" }) },
      { ALT: () => this.CONSUME(T.Reference, { LABEL: "scalar" }) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.dict) },
    ]);
  });

  list = this.RULE("list", () => {
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.value) });
    this.CONSUME(T.RBracket);
  });
}

// Where a choice fails, name the thing the rule reads rather than list every token.
const RULE_WORDS: Readonly<Record<string, string>> = {
  value: "a value (number, string, reference, list or dict)",
  entry: "an attribute name",
};

// A closer missed after an element of a comma-separated list could as well have
// been a comma; a block's '}' could as well have been another statement.
const SEPARATED_LISTS = new Set(["dict", "list", "referenceList", "typeAnnotation"]);
const OPENERS = new Set<TokenType>([T.LBrace, T.LParen, T.LBracket, T.Comma]);

function mismatchWords(expected: TokenType, previous: IToken, ruleName: string): string[] {
  const closer = expected === T.RBrace || expected === T.RParen || expected === T.RBracket;
  if (closer && SEPARATED_LISTS.has(ruleName) && !OPENERS.has(previous.tokenType)) return ["','", ...labelsOf([expected])];
  if (expected === T.RBrace && ruleName === "block") return ["a statement", ...labelsOf([expected])];
  return labelsOf([expected]);
}

/** Chevrotain's messages, reworded as `expected X but found Y`. */
const plainMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual, previous, ruleName }) => expectedButFound(mismatchWords(expected, previous, ruleName), actual),
  buildNotAllInputParsedMessage: ({ firstRedundant }) =>
    `expected a statement (keyword) or end of input but found ${describe(firstRedundant)}`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual, ruleName }) =>
    expectedButFound(
      RULE_WORDS[ruleName] !== undefined ? [RULE_WORDS[ruleName]] : labelsOf(expectedPathsPerAlt.flatMap((paths) => paths.map((p) => p[0]!))),
      actual[0]!,
    ),
  buildEarlyExitMessage: ({ expectedIterationPaths, actual }) =>
    expectedButFound(labelsOf(expectedIterationPaths.map((p) => p[0]!)), actual[0]!),
};

function labelsOf(types: readonly TokenType[]): string[] {
  return [...new Set(types.map((t) => t.LABEL ?? t.name))];
}

function expectedButFound(words: readonly string[], actual: IToken): string {
  const list = words.length <= 1 ? (words[0] ?? "something else") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
  return `expected ${list} but found ${describe(actual)}`;
}

export function describe(token: IToken | undefined): string {
  return token === undefined || token.tokenType === EOF ? "end of input" : `'${token.image}'`;
}

// Self-analysis is slow, so one instance, made on first use, serves every parse.
let grammar: LowerTextGrammar | undefined;

export type ParseResult = { readonly cst: CstNode } | { readonly problem: IRecognitionException };

/** The syntax tree of a whole document, or the first syntax error, as data. */
export function parseLowerTokens(tokens: IToken[]): ParseResult {
  grammar ??= new LowerTextGrammar();
  grammar.input = tokens;
  const cst = grammar.document();
  const problem = grammar.errors[0];
  // The instance outlives the parse: drop its tokens (millions for a large module), which it would otherwise keep.
  grammar.input = [];
  return problem ? { problem } : { cst };
}
