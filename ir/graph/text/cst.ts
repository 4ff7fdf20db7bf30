// Typed reads of chevrotain's concrete syntax tree. The grammar guarantees which
// children exist, so a missing one is a bug in the builder, not a user error.

import type { CstElement, CstNode, IToken } from "chevrotain";
import { TierflowError } from "../../diagnostics.js";

function isToken(element: CstElement): element is IToken {
  return "image" in element;
}

export function tokensOf(node: CstNode, key: string): IToken[] {
  return (node.children[key] ?? []).filter(isToken);
}

export function nodesOf(node: CstNode, key: string): CstNode[] {
  return (node.children[key] ?? []).filter((e): e is CstNode => !isToken(e));
}

export function optionalToken(node: CstNode, key: string): IToken | undefined {
  return tokensOf(node, key)[0];
}

export function optionalNode(node: CstNode, key: string): CstNode | undefined {
  return nodesOf(node, key)[0];
}

export function tokenOf(node: CstNode, key: string): IToken {
  const token = optionalToken(node, key);
  if (!token) throw new Error(`internal: '${node.name}' has no token '${key}'`);
  return token;
}

export function nodeOf(node: CstNode, key: string): CstNode {
  const child = optionalNode(node, key);
  if (!child) throw new Error(`internal: '${node.name}' has no '${key}'`);
  return child;
}

/** A TierflowError pointing at `token` (the file is added by the caller). */
export function errorAt(token: IToken, message: string): TierflowError {
  return new TierflowError(message, { line: token.startLine ?? 0, column: token.startColumn ?? 0 });
}

/** Run `step`, pinning any TierflowError it raises without a line to `token`. */
export function pinnedTo<T>(token: IToken, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof TierflowError && err.location.line === undefined) {
      throw err.at({ line: token.startLine ?? 0, column: token.startColumn ?? 0 });
    }
    throw err;
  }
}

/** The text of a quoted string token, or of a `%`/`@` name with or without quotes. */
export function unquote(image: string): string {
  return image.startsWith('"') ? (JSON.parse(image) as string) : image;
}

export function sigilName(token: IToken): string {
  return unquote(token.image.slice(1));
}

/** Line and column (1-based) of a character offset, for lexer errors. */
export function positionAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const breaks = [...before.matchAll(/\r\n?|\n/g)];
  const last = breaks.at(-1);
  const lineStart = last ? last.index + last[0].length : 0;
  return { line: breaks.length + 1, column: offset - lineStart + 1 };
}

// The end-of-input token has no position of its own: point just past the last token.
export function positionOfToken(token: IToken, tokens: readonly IToken[]): { line: number; column: number } {
  if (Number.isFinite(token.startLine) && Number.isFinite(token.startColumn)) {
    return { line: token.startLine!, column: token.startColumn! };
  }
  const last = tokens.at(-1);
  if (!last) return { line: 1, column: 1 };
  // A token holds no line break: one that keeps only its start ends on its first line.
  const endColumn = last.endColumn ?? (last.startColumn === undefined ? 0 : last.startColumn + last.image.length - 1);
  return { line: last.endLine ?? last.startLine ?? 1, column: endColumn + 1 };
}

/** The offset of a token's last character (a token holds no line break, so it is image.length - 1 on). */
export function endOffsetOf(token: IToken): number {
  return token.endOffset ?? token.startOffset + token.image.length - 1;
}
