// Tokens of the text shared by the dataflow and placement levels
// (docs/IR-TEXT.md). There are no keyword tokens: a statement's keyword is an
// Identifier and each level's builder decides which keywords it knows, so one
// lexer and one grammar serve both levels.

import { createToken, Lexer } from "../chevrotain.js";
import type { IToken, TokenType } from "chevrotain";
import { BARE_VALUE_NAME, STRING_LITERAL } from "../graph/text/names.js";

const quoted = STRING_LITERAL.source;
const bareValue = BARE_VALUE_NAME.source.slice(1, -1);

/** A `%tensor` or `@symbol` reference: either may stand in a reference list or as a value. */
export const Reference = createToken({ name: "Reference", pattern: Lexer.NA, label: "a reference (%tensor or @name)" });

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /\s+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: "Comment", pattern: /\/\/[^\n\r]*/, group: Lexer.SKIPPED });

export const StringLit = createToken({ name: "StringLit", pattern: STRING_LITERAL, label: "a string" });
export const ValueName = createToken({
  name: "ValueName",
  pattern: new RegExp(`%(?:${bareValue}|${quoted})`),
  label: "a tensor name (%name)",
  categories: [Reference],
});
export const AtName = createToken({
  name: "AtName",
  pattern: new RegExp(`@(?:[A-Za-z_][A-Za-z0-9_]*|${quoted})`),
  label: "a name (@name)",
  categories: [Reference],
});
// Exactly the forms JS's String(n) writes for a finite number, so that every
// printed number reads back as the same double.
export const NumberLit = createToken({ name: "NumberLit", pattern: /-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/, label: "a number" });
export const Arrow = createToken({ name: "Arrow", pattern: "->", label: "'->'" });
export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: "a name" });

function punctuation(name: string, text: string): TokenType {
  return createToken({ name, pattern: text, label: `'${text}'` });
}

export const LBrace = punctuation("LBrace", "{");
export const RBrace = punctuation("RBrace", "}");
export const LParen = punctuation("LParen", "(");
export const RParen = punctuation("RParen", ")");
export const LBracket = punctuation("LBracket", "[");
export const RBracket = punctuation("RBracket", "]");
export const Comma = punctuation("Comma", ",");
export const Colon = punctuation("Colon", ":");
export const Equals = punctuation("Equals", "=");

/** In matching order: the first pattern that matches wins (`->` before a number's `-`). */
export const ALL_TOKENS: TokenType[] = [
  WhiteSpace, Comment, StringLit, ValueName, AtName, Arrow, NumberLit, Identifier,
  LBrace, RBrace, LParen, RParen, LBracket, RBracket, Comma, Colon, Equals, Reference,
];

// Built on first use, like the grammar: importing this module stays cheap.
let lexer: InstanceType<typeof Lexer> | undefined;

export type LexResult = { readonly tokens: IToken[] } | { readonly problem: { readonly offset: number; readonly message: string } };

/** Tokens of `text`, or the first problem found, as data. */
export function lexLowerText(text: string): LexResult {
  lexer ??= new Lexer(ALL_TOKENS, { positionTracking: "full", ensureOptimizations: true });
  const result = lexer.tokenize(text);
  const first = result.errors[0];
  if (first) return { problem: { offset: first.offset, message: describeBadCharacter(text, first.offset) } };
  return { tokens: result.tokens };
}

// The lexer only says which character it could not match; the common cases are a
// string that never closes and a sigil with no name after it.
function describeBadCharacter(text: string, offset: number): string {
  const char = String.fromCodePoint(text.codePointAt(offset) ?? 0);
  const rest = char === "%" || char === "@" ? text.slice(offset + 1) : text.slice(offset);
  if (rest.startsWith('"')) {
    const closed = /^"(?:[^"\\\n\r]|\\[^\n\r])*"/.test(rest);
    return closed ? "invalid escape or control character in string" : "unterminated string";
  }
  if (char === "%" || char === "@") return `expected a name after '${char}'`;
  return `unexpected character '${char}'`;
}
