// Attribute values of the dataflow and placement texts. A Codec both prints a
// value and reads it back, and a Schema (attribute name -> codec, in print
// order) describes one statement's dictionary, so the printer and the builder
// of each level share one table and cannot disagree. Numbers print with
// String(n), which reads back as the same double.
//
// Only type imports from chevrotain: printing never loads the parser library.

import type { CstNode, IToken } from "chevrotain";
import { TierflowError } from "../diagnostics.js";
import { errorAt, nodeOf, nodesOf, optionalNode, optionalToken, sigilName, tokenOf, unquote } from "../graph/text/cst.js";
import { identifier, quote, valueName } from "../graph/text/format.js";
import type { Statement } from "./statements.js";

export interface Codec<T> {
  /** `where` names the value in printer errors ("kernel @k0 attribute 'flops'"). */
  print(value: T, where: string): string;
  read(value: CstNode): T;
}

/** A finite number other than -0, as String(n) writes it. */
export function formatNumber(value: number, where: string): string {
  if (!Number.isFinite(value) || Object.is(value, -0)) {
    throw new TierflowError(`cannot print ${where}: ${Object.is(value, -0) ? "-0" : value} has no textual form (only finite numbers other than -0)`);
  }
  return String(value);
}

/** The first token of a `value` node, for "but found ...". */
function valueToken(value: CstNode): IToken {
  const scalar = optionalToken(value, "scalar");
  if (scalar) return scalar;
  const list = optionalNode(value, "list");
  return list ? tokenOf(list, "LBracket") : tokenOf(nodeOf(value, "dict"), "LBrace");
}

function scalar(value: CstNode, type: string, what: string): IToken {
  const token = valueToken(value);
  if (token.tokenType.name !== type) throw errorAt(token, `expected ${what} but found '${token.image}'`);
  return token;
}

export const num: Codec<number> = {
  print: formatNumber,
  read(value) {
    const token = scalar(value, "NumberLit", "a number");
    const n = Number(token.image);
    if (!Number.isFinite(n) || Object.is(n, -0)) throw errorAt(token, `expected a finite number other than -0 but found '${token.image}'`);
    return n;
  },
};

export const int: Codec<number> = {
  print(value, where) {
    if (!Number.isInteger(value)) throw new TierflowError(`cannot print ${where}: ${value} is not an integer`);
    return formatNumber(value, where);
  },
  read(value) {
    const n = num.read(value);
    if (!Number.isInteger(n)) throw errorAt(valueToken(value), `expected an integer but found '${valueToken(value).image}'`);
    return n;
  },
};

export const str: Codec<string> = {
  print: (value) => quote(value),
  read: (value) => unquote(scalar(value, "StringLit", "a string").image),
};

function wordList(words: readonly unknown[], conjunction = "or"): string {
  const list = words.map(String);
  return list.length <= 1 ? (list[0] ?? "") : `${list.slice(0, -1).join(", ")} ${conjunction} ${list.at(-1)}`;
}

/** A string out of a closed set; `noun` names it in errors ("unknown tier 'l3'"). */
export function oneOf<T extends string>(noun: string, values: readonly T[]): Codec<T> {
  const known = (v: string): v is T => (values as readonly string[]).includes(v);
  return {
    print(value, where) {
      if (!known(value)) throw new TierflowError(`cannot print ${where}: unknown ${noun} '${value}'`);
      return quote(value);
    },
    read(value) {
      const token = scalar(value, "StringLit", `a ${noun} (a string)`);
      const text = unquote(token.image);
      if (!known(text)) throw errorAt(token, `unknown ${noun} '${text}' (expected ${wordList(values)})`);
      return text;
    },
  };
}

/** An integer out of a closed set (an optimisation level). */
export function intOneOf<T extends number>(noun: string, values: readonly T[]): Codec<T> {
  const known = (v: number): v is T => (values as readonly number[]).includes(v);
  return {
    print(value, where) {
      if (!known(value)) throw new TierflowError(`cannot print ${where}: unknown ${noun} ${value}`);
      return formatNumber(value, where);
    },
    read(value) {
      const n = int.read(value);
      if (!known(n)) throw errorAt(valueToken(value), `unknown ${noun} ${n} (expected ${wordList(values)})`);
      return n;
    },
  };
}

/** `[v, v, ...]`; `length` fixes the count (a pair of section indices). */
export function listOf<T>(element: Codec<T>, length?: number): Codec<T[]> {
  const counted = length === undefined ? "" : ` of ${length}`;
  return {
    print(values, where) {
      if (length !== undefined && values.length !== length) throw new TierflowError(`cannot print ${where}: it has ${values.length} elements, not ${length}`);
      return `[${values.map((v) => element.print(v, where)).join(", ")}]`;
    },
    read(value) {
      const list = optionalNode(value, "list");
      if (!list) throw errorAt(valueToken(value), `expected a list${counted} but found '${valueToken(value).image}'`);
      const elements = nodesOf(list, "value");
      if (length !== undefined && elements.length !== length) {
        throw errorAt(tokenOf(list, "LBracket"), `expected a list of ${length} elements but found ${elements.length}`);
      }
      return elements.map((e) => element.read(e));
    },
  };
}

/** Dictionary keys: plain names (`batch`, `"tierflow.Attention"`) or tensor references (`%x`). */
export type KeyKind = "names" | "tensors";

function formatKey(key: string, keys: KeyKind): string {
  return keys === "names" ? identifier(key) : valueName(key);
}

function readKey(token: IToken, keys: KeyKind): string {
  const allowed = keys === "tensors" ? ["ValueName"] : ["Identifier", "StringLit"];
  if (!allowed.includes(token.tokenType.name)) {
    throw errorAt(token, `expected ${keys === "tensors" ? "a tensor name (%name)" : "a key (a name or string)"} but found '${token.image}'`);
  }
  return keys === "tensors" ? sigilName(token) : unquote(token.image);
}

/** Every key token of a `dict` node with its value node, in order. */
export function entriesOf(dict: CstNode | undefined): { readonly key: IToken; readonly value: CstNode }[] {
  return dict ? nodesOf(dict, "entry").map((e) => ({ key: tokenOf(e, "key"), value: nodeOf(e, "value") })) : [];
}

/** `{key = value, ...}` in the record's own key order. */
export function formatDict<T>(element: Codec<T>, keys: KeyKind, record: Readonly<Record<string, T>>, where: Where): string {
  let text = "{";
  for (const k in record) {
    if (!Object.hasOwn(record, k)) continue;
    text += `${text.length > 1 ? ", " : ""}${formatKey(k, keys)} = ${printValue(element, record[k]!, where, "entry", k)}`;
  }
  return `${text}}`;
}

/**
 * What a printed value is, for a printer's error: the text, or what makes it.
 * Most values print without error, so their names are only made for one that does not.
 */
export type Where = string | (() => string);

const named = (where: Where): string => (typeof where === "string" ? where : where());

/**
 * `codec.print` of `owner`'s attribute, dictionary entry or dimension `key`, naming
 * it only when printing fails (printing is pure: the retry fails the same way).
 */
function printValue<T>(codec: Codec<T>, value: T, owner: Where, part: "attribute" | "entry" | "dimension", key = ""): string {
  try {
    return codec.print(value, "");
  } catch {
    const name = part === "attribute" ? ` attribute '${key}'` : part === "entry" ? ` entry ${quote(key)}` : " dimension";
    return codec.print(value, `${named(owner)}${name}`);
  }
}

/** A `dict` node (undefined: empty) as a record; fromEntries keeps `__proto__` an own key. */
export function readDict<T>(element: Codec<T>, keys: KeyKind, dict: CstNode | undefined): Record<string, T> {
  const seen = new Set<string>();
  const entries = entriesOf(dict).map(({ key, value }): [string, T] => {
    const name = readKey(key, keys);
    if (seen.has(name)) throw errorAt(key, `key '${key.image}' is given twice`);
    seen.add(name);
    return [name, element.read(value)];
  });
  return Object.fromEntries(entries);
}

export function dictOf<T>(element: Codec<T>, keys: KeyKind): Codec<Record<string, T>> {
  return {
    print: (record, where) => formatDict(element, keys, record, where),
    read(value) {
      const dict = optionalNode(value, "dict");
      if (!dict) throw errorAt(valueToken(value), `expected a dictionary ('{') but found '${valueToken(value).image}'`);
      return readDict(element, keys, dict);
    },
  };
}

/** A statement's attributes: name -> codec, in the order they print (`any`: each entry has its own type). */
export type Schema = Readonly<Record<string, Codec<any>>>;
export type ValuesOf<S extends Schema> = { -readonly [K in keyof S]: S[K] extends Codec<infer T> ? T : never };

/** ` {a = 1, b = "x"}` (with its leading space), or "" for an empty schema. */
export function formatAttrs<S extends Schema>(schema: S, values: ValuesOf<S>, owner: Where): string {
  const entries = schemaEntries(schema);
  if (entries.length === 0) return "";
  let text = " {";
  for (let i = 0; i < entries.length; i++) {
    const [key, codec] = entries[i]!;
    text += `${i > 0 ? ", " : ""}${key} = ${printValue(codec, values[key], owner, "attribute", key)}`;
  }
  return `${text}}`;
}

/** Each schema's entries, listed once rather than for every statement printed. */
const ENTRIES = new WeakMap<Schema, readonly (readonly [string, Codec<any>])[]>();

function schemaEntries(schema: Schema): readonly (readonly [string, Codec<any>])[] {
  let entries = ENTRIES.get(schema);
  if (!entries) ENTRIES.set(schema, entries = Object.entries(schema));
  return entries;
}

/** Reads a statement's attributes against `schema`: every one required, no others allowed. */
export function readAttrs<S extends Schema>(schema: S, statement: Statement, owner: string): ValuesOf<S> {
  const values: Record<string, unknown> = {};
  for (const { key, value } of entriesOf(statement.attrs)) {
    const name = readKey(key, "names");
    const codec = Object.hasOwn(schema, name) ? schema[name] : undefined;
    if (!codec) throw errorAt(key, `unknown attribute '${name}' of ${owner} (expected ${wordList(Object.keys(schema))})`);
    if (Object.hasOwn(values, name)) throw errorAt(key, `attribute '${name}' of ${owner} is given twice`);
    values[name] = codec.read(value);
  }
  const missing = Object.keys(schema).filter((key) => !Object.hasOwn(values, key));
  if (missing.length > 0) {
    const words = missing.map((m) => `'${m}'`);
    throw errorAt(statement.keywordToken, `${owner} is missing attribute${missing.length > 1 ? "s" : ""} ${wordList(words, "and")}`);
  }
  return values as ValuesOf<S>;
}

/** One printed statement: keyword, head items and attributes, space-separated. */
export function statementLine(keyword: string, head: readonly string[], attrs = ""): string {
  return head.length === 0 ? keyword + attrs : `${keyword} ${head.join(" ")}${attrs}`;
}

/** `DTYPE[d, ...]` */
export function formatType(dtype: string, shape: readonly number[], where: Where): string {
  return `${dtype}[${shape.map((d) => printValue(int, d, where, "dimension")).join(", ")}]`;
}
