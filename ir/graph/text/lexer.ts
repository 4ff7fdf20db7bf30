// Tokens of the graph-level text (docs/IR-TEXT.md). Keywords are a category of
// Identifier so that a keyword may still serve as a name (an attribute called
// `length`, a dim symbol called `none`); `longer_alt` keeps `offsets` one word.

import { createToken, Lexer } from "../../chevrotain.js";
import type { IToken, TokenType } from "chevrotain";
import { BARE_VALUE_NAME, STRING_LITERAL } from "./names.js";

const quoted = STRING_LITERAL.source;
const bareValue = BARE_VALUE_NAME.source.slice(1, -1);

// Categories: one token type that several match, so that a rule can take "any
// of these" in one step instead of an alternation (cheaper on every parse).
/** A token that may open a dimension expression (not '*', so that `[*]` stays unambiguous). */
export const DimStart = createToken({ name: "DimStart", pattern: Lexer.NA, label: "a dimension" });
/** Any token inside a dimension expression after its first. */
export const DimPart = createToken({ name: "DimPart", pattern: Lexer.NA, label: "a dimension" });
/** A number without a sign of its own (`-inf` is Minus then Inf). */
export const PlainNumber = createToken({ name: "PlainNumber", pattern: Lexer.NA, label: "a number" });
/** A value name or `none` (an omitted optional input or output). */
export const ValueOrNone = createToken({ name: "ValueOrNone", pattern: Lexer.NA, label: "a value name or 'none'" });

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /\s+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: "Comment", pattern: /\/\/[^\n\r]*/, group: Lexer.SKIPPED });

export const StringLit = createToken({ name: "StringLit", pattern: STRING_LITERAL, label: "a string" });
export const ValueName = createToken({
  name: "ValueName",
  pattern: new RegExp(`%(?:${bareValue}|${quoted})`),
  label: "a value name (%name)",
  categories: [ValueOrNone],
});
export const AtName = createToken({
  name: "AtName",
  pattern: new RegExp(`@(?:[A-Za-z_][A-Za-z0-9_.]*|${quoted})`),
  label: "a name (@name)",
});

// Floats need a '.' or an exponent; they come before Integer so `1.5` is one token.
export const Float = createToken({
  name: "Float",
  pattern: /-?\d+(?:\.\d+(?:[eE][-+]?\d+)?|[eE][-+]?\d+)/,
  label: "a float",
  categories: [PlainNumber],
});
export const Integer = createToken({
  name: "Integer",
  pattern: /-?\d+/,
  label: "an integer",
  categories: [PlainNumber, DimStart, DimPart],
});

export const Identifier = createToken({
  name: "Identifier",
  pattern: /[A-Za-z_][A-Za-z0-9_.]*/,
  label: "a name",
  categories: [DimStart, DimPart],
});

function keyword(word: string, ...categories: TokenType[]): TokenType {
  const name = word[0]!.toUpperCase() + word.slice(1);
  return createToken({ name, pattern: word, longer_alt: Identifier, categories: [Identifier, ...categories], label: `'${word}'` });
}

export const Module = keyword("module");
export const Graph = keyword("graph");
export const Return = keyword("return");
export const Opset = keyword("opset");
export const Weight = keyword("weight");
export const Offset = keyword("offset");
export const Length = keyword("length");
export const Dense = keyword("dense");
export const None = keyword("none", ValueOrNone);
export const Loc = keyword("loc");
export const Nan = keyword("nan", PlainNumber);
export const Inf = keyword("inf", PlainNumber);

function punctuation(name: string, text: string, ...categories: TokenType[]): TokenType {
  return createToken({ name, pattern: text, label: `'${text}'`, categories });
}

export const Arrow = punctuation("Arrow", "->");
export const Minus = punctuation("Minus", "-", DimStart, DimPart);
export const Plus = punctuation("Plus", "+", DimPart);
export const Star = punctuation("Star", "*", DimPart);
export const LBrace = punctuation("LBrace", "{");
export const RBrace = punctuation("RBrace", "}");
export const LParen = punctuation("LParen", "(", DimStart, DimPart);
export const RParen = punctuation("RParen", ")", DimPart);
export const LBracket = punctuation("LBracket", "[");
export const RBracket = punctuation("RBracket", "]");
export const LAngle = punctuation("LAngle", "<");
export const RAngle = punctuation("RAngle", ">");
export const Comma = punctuation("Comma", ",");
export const Colon = punctuation("Colon", ":");
export const Equals = punctuation("Equals", "=");
export const Dot = punctuation("Dot", ".");

/** In matching order: the first pattern that matches wins, so longer forms come first. */
export const ALL_TOKENS: TokenType[] = [
  WhiteSpace, Comment, StringLit, ValueName, AtName, Float, Integer, Arrow,
  Module, Graph, Return, Opset, Weight, Offset, Length, Dense, None, Loc, Nan, Inf, Identifier,
  Minus, Plus, Star, LBrace, RBrace, LParen, RParen, LBracket, RBracket, LAngle, RAngle,
  Comma, Colon, Equals, Dot, DimStart, DimPart, PlainNumber, ValueOrNone,
];

// Tokens keep only where they start (about a quarter of a full token's memory): none holds a line
// break, so each ends on its own line, image.length - 1 characters on (endOffsetOf).
const lexer = new Lexer(ALL_TOKENS, { positionTracking: "onlyStart", ensureOptimizations: true });

export interface LexProblem {
  readonly offset: number;
  readonly message: string;
}

export type LexResult = { readonly tokens: IToken[] } | { readonly problem: LexProblem };

/** Tokens of `text`, or the first problem found, as data. */
export function lexGraphText(text: string): LexResult {
  const result = lexer.tokenize(text);
  const first = result.errors[0];
  if (first) return { problem: { offset: first.offset, message: describeBadCharacter(text, first.offset) } };
  return { tokens: result.tokens };
}

// The lexer only says which character it could not match; the common cases are a
// string that never closes and a sigil with no name after it.
function describeBadCharacter(text: string, offset: number): string {
  const char = String.fromCodePoint(text.codePointAt(offset) ?? 0);
  if (char === '"') return describeBadString(text.slice(offset));
  if (char === "%" || char === "@") {
    const rest = text.slice(offset + 1);
    if (rest.startsWith('"')) return describeBadString(rest);
    return `expected a name after '${char}'`;
  }
  return `unexpected character '${char}'`;
}

function describeBadString(text: string): string {
  const closedOnThisLine = /^"(?:[^"\\\n\r]|\\[^\n\r])*"/.test(text);
  return closedOnThisLine ? "invalid escape or control character in string" : "unterminated string";
}
