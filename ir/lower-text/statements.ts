// From text to statements: lexing and the grammar (each handing back its first
// problem as data, turned here into a TierflowError at line:column), then a
// typed view of each statement for the level builders. The head of a statement
// is read in order through `Head`, whose every `expected X but found Y` names
// the item it stopped at, as a grammar error would.

import type { CstNode, IToken } from "chevrotain";
import { TierflowError } from "../diagnostics.js";
import type { DType } from "../dtype.js";
import { isDType } from "../dtype.js";
import { errorAt, nodesOf, optionalNode, positionAt, positionOfToken, sigilName, tokenOf, tokensOf, unquote } from "../graph/text/cst.js";
import { describe, parseLowerTokens } from "./grammar.js";
import { lexLowerText } from "./lexer.js";

export interface Statement {
  readonly keyword: string;
  readonly keywordToken: IToken;
  readonly head: Head;
  /** The `{key = value}` dictionary; undefined when omitted (read as empty). */
  readonly attrs: CstNode | undefined;
  /** The `{ statement* }` block; undefined when omitted. */
  readonly body: readonly Statement[] | undefined;
  /** The block's '{', for errors about it. */
  readonly bodyToken: IToken | undefined;
}

/** The top-level statements of `text` (the file goes into the level builder's errors). */
export function readStatements(text: string): Statement[] {
  const lexed = lexLowerText(text);
  if ("problem" in lexed) throw new TierflowError(lexed.problem.message, positionAt(text, lexed.problem.offset));
  checkNesting(lexed.tokens);
  const parsed = parseLowerTokens(lexed.tokens);
  if ("problem" in parsed) throw new TierflowError(parsed.problem.message, positionOfToken(parsed.problem.token, lexed.tokens));
  const tokens = lexed.tokens;
  return nodesOf(parsed.cst, "statement").map((s) => viewStatement(s, tokens));
}

/** Deepest bracket nesting the recursive grammar is given; the IR nests a few levels. */
export const MAX_NESTING = 256;

function checkNesting(tokens: readonly IToken[]): void {
  let depth = 0;
  for (const t of tokens) {
    const image = t.image;
    if (image === "{" || image === "(" || image === "[") {
      if (++depth > MAX_NESTING) throw new TierflowError(`brackets nest deeper than ${MAX_NESTING}`, { line: t.startLine ?? 0, column: t.startColumn ?? 0 });
    } else if (image === "}" || image === ")" || image === "]") depth = Math.max(0, depth - 1);
  }
}

function viewStatement(node: CstNode, tokens: readonly IToken[]): Statement {
  const attrs = optionalNode(node, "attrs");
  const block = optionalNode(node, "block");
  // What follows the head, for "but found ...": the dictionary's or block's '{',
  // else the first token after the statement, else the end of input.
  const after = (): Found => {
    const brace = attrs ?? block;
    const end = node.location?.endOffset ?? -1;
    const token = brace ? tokenOf(brace, "LBrace") : tokens.find((t) => t.startOffset > end);
    if (token) return { description: describe(token), line: token.startLine ?? 0, column: token.startColumn ?? 0 };
    const last = tokens.at(-1);
    return { description: "end of input", line: last?.endLine ?? 1, column: (last?.endColumn ?? 0) + 1 };
  };
  return {
    keyword: tokenOf(node, "keyword").image,
    keywordToken: tokenOf(node, "keyword"),
    head: new Head(nodesOf(node, "headItem"), after),
    attrs,
    body: block ? nodesOf(block, "statement").map((s) => viewStatement(s, tokens)) : undefined,
    bodyToken: block ? tokenOf(block, "LBrace") : undefined,
  };
}

interface Found {
  readonly description: string;
  readonly line: number;
  readonly column: number;
}

/** The items between a statement's keyword and its attributes, read left to right. */
export class Head {
  private next = 0;

  constructor(private readonly items: readonly CstNode[], private readonly after: () => Found) {}

  /** `@name` */
  symbol(what: string): { readonly name: string; readonly token: IToken } {
    const token = this.token(what, "AtName");
    return { name: sigilName(token), token };
  }

  /** `%name` */
  tensor(what: string): { readonly name: string; readonly token: IToken } {
    const token = this.token(what, "ValueName");
    return { name: sigilName(token), token };
  }

  string(what: string): string {
    return unquote(this.token(what, "StringLit").image);
  }

  arrow(): void {
    this.token("'->'", "Arrow");
  }

  /** `(%a, %b)` or `(@a, @b)`, every element with the same sigil. */
  references(what: string, sigil: "%" | "@"): string[] {
    const list = this.take(what, "referenceList");
    const type = sigil === "%" ? "ValueName" : "AtName";
    return tokensOf(list, "Reference").map((token) => {
      if (token.tokenType.name !== type) throw errorAt(token, `expected ${what} but found '${token.image}'`);
      return sigilName(token);
    });
  }

  /** `: DTYPE[d, d, ...]` with non-negative integer dims. */
  type(what: string): { readonly dtype: DType; readonly shape: number[] } {
    const node = this.take(what, "typeAnnotation");
    const dtypeToken = tokenOf(node, "dtype");
    if (!isDType(dtypeToken.image)) throw errorAt(dtypeToken, `unknown dtype '${dtypeToken.image}'`);
    const shape = tokensOf(node, "dims").map((token) => {
      const dim = Number(token.image);
      if (!Number.isSafeInteger(dim) || dim < 0) throw errorAt(token, `expected a dimension (an integer >= 0) but found '${token.image}'`);
      return dim;
    });
    return { dtype: dtypeToken.image, shape };
  }

  /** No items may remain. */
  end(): void {
    const item = this.items[this.next];
    if (item) throw errorAt(firstToken(item), `expected '{' or the next statement but found '${firstToken(item).image}'`);
  }

  private token(what: string, type: string): IToken {
    const item = this.items[this.next];
    const token = item && tokensOf(item, type === "AtName" || type === "ValueName" ? "Reference" : type)[0];
    if (!item || !token || token.tokenType.name !== type) this.fail(what);
    this.next++;
    return token;
  }

  private take(what: string, rule: string): CstNode {
    const item = this.items[this.next];
    const node = item && optionalNode(item, rule);
    if (!node) this.fail(what);
    this.next++;
    return node;
  }

  private fail(what: string): never {
    const item = this.items[this.next];
    if (item) throw errorAt(firstToken(item), `expected ${what} but found ${describe(firstToken(item))}`);
    const { description, line, column } = this.after();
    throw new TierflowError(`expected ${what} but found ${description}`, { line, column });
  }
}

function firstToken(node: CstNode): IToken {
  let first: IToken | undefined;
  for (const children of Object.values(node.children)) {
    for (const child of children) {
      const token = "image" in child ? child : firstToken(child);
      if (!first || token.startOffset < first.startOffset) first = token;
    }
  }
  if (!first) throw new Error(`internal: '${node.name}' has no tokens`);
  return first;
}

/**
 * The statements of a block by keyword: `singletons` must each appear exactly
 * once, `repeated` any number of times (in order); any other keyword is an error.
 */
export function groupStatements(
  owner: Statement,
  ownerName: string,
  singletons: readonly string[],
  repeated: readonly string[],
): { one(keyword: string): Statement; many(keyword: string): Statement[] } {
  const groups = new Map<string, Statement[]>([...singletons, ...repeated].map((k) => [k, []]));
  for (const statement of owner.body ?? []) {
    const group = groups.get(statement.keyword);
    if (!group) {
      const known = [...groups.keys()];
      throw errorAt(statement.keywordToken, `expected ${known.slice(0, -1).join(", ")} or ${known.at(-1)} but found '${statement.keyword}'`);
    }
    if (singletons.includes(statement.keyword) && group.length > 0) {
      throw errorAt(statement.keywordToken, `'${statement.keyword}' is given twice in ${ownerName}`);
    }
    group.push(statement);
  }
  return {
    one: (keyword) => groups.get(keyword)?.[0] ?? fail(owner, `${ownerName} has no '${keyword}' statement`),
    many: (keyword) => groups.get(keyword) ?? [],
  };
}

/** A statement that holds nothing but its head and attributes. */
export function leaf(statement: Statement): Statement {
  statement.head.end();
  // A dictionary missing its '=' reads as a block, so say what was meant.
  if (statement.bodyToken) {
    throw errorAt(statement.bodyToken, `expected attributes {key = value, ...} but found a block ('${statement.keyword}' takes no block)`);
  }
  return statement;
}

/** Builds each statement, refusing a second definition of a name at its token. */
export function uniquelyNamed<T extends { readonly name: string }>(
  statements: readonly Statement[],
  build: (s: Statement) => { readonly value: T; readonly token: IToken },
  noun: string,
  show: (name: string) => string,
): T[] {
  const seen = new Set<string>();
  return statements.map((s) => {
    const { value, token } = build(s);
    if (seen.has(value.name)) throw errorAt(token, `${noun} ${show(value.name)} is defined twice`);
    seen.add(value.name);
    return value;
  });
}

function fail(at: Statement, message: string): never {
  throw errorAt(at.keywordToken, message);
}

/**
 * Builds the one top-level statement of a document, which must have `keyword`.
 * A second statement is refused only after the first is built, so that `dataflow m`
 * says the name lacks its '@' rather than that `m` is one statement too many.
 */
export function buildOnlyStatement<T>(statements: readonly Statement[], keyword: string, build: (s: Statement) => T): T {
  const [first, second] = statements;
  if (!first) throw new TierflowError(`expected '${keyword}' but found end of input`, { line: 1, column: 1 });
  if (first.keyword !== keyword) throw errorAt(first.keywordToken, `expected '${keyword}' but found '${first.keyword}'`);
  const built = build(first);
  if (second) throw errorAt(second.keywordToken, `expected end of input but found '${second.keyword}'`);
  return built;
}
