// A small FileCheck: the directives lit tests use, checked against printed IR.
//   CHECK: text        found at or after the end of the previous match
//   CHECK-NEXT: text   on the line right after the previous match's line
//   CHECK-SAME: text   on the previous match's line, after it
//   CHECK-NOT: text    absent between the previous match and the next one
//   CHECK-DAG: text    a run of DAG checks matches in any order, without overlapping,
//                      after the previous match; the next check starts after the last of them
//   CHECK-LABEL: text  found first, in order; splits the input into blocks, and the checks
//                      after a label (up to the next one) apply only within its block
//   CHECK-COUNT-N: t   N CHECKs of t
// A pattern is literal text with {{regex}} parts, [[NAME:regex]] captures and [[NAME]] uses
// (the latest capture of NAME; a use with none is an error naming it). A match never spans
// lines. fileCheck returns null on success, else a message naming the check, its line in the
// check file and the input where the search started.

export type CheckKind = "CHECK" | "CHECK-NEXT" | "CHECK-SAME" | "CHECK-NOT" | "CHECK-DAG" | "CHECK-LABEL";

type Piece =
  | { readonly literal: string }
  | { readonly regex: string }
  | { readonly define: string; readonly regex: string }
  | { readonly use: string };

export interface Directive {
  readonly kind: CheckKind;
  /** The pattern as written, trimmed. */
  readonly source: string;
  /** 1-based line of the check file. */
  readonly line: number;
  readonly pieces: readonly Piece[];
}

/** A problem with the check file itself (not with the input): always a failure. */
export class CheckFileError extends Error {}

const DIRECTIVE = /\/\/\s*(CHECK(?:-[A-Z0-9-]*)?)\s*(:?)(.*)$/;
const KINDS = new Set<string>(["CHECK", "CHECK-NEXT", "CHECK-SAME", "CHECK-NOT", "CHECK-DAG", "CHECK-LABEL"]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Where the regex starting at `from` ends with `close` ("}}" or "]]"): the first `close`
 * outside an escape, a character class and a {n,m} quantifier, so `{{[0-9]{2}}}` and
 * `[[N:[a-z]+]]]` read as a regex and what follows it.
 */
function regexEnd(text: string, from: number, close: "}}" | "]]"): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "[") {
      for (i++; i < text.length && text[i] !== "]"; i++) if (text[i] === "\\") i++;
    } else if (close === "}}" && c === "{") depth++;
    else if (close === "}}" && c === "}" && depth > 0) depth--;
    else if (text.startsWith(close, i)) return i;
  }
  return -1;
}

function parsePattern(text: string, line: number): Piece[] {
  const pieces: Piece[] = [];
  let literal = "";
  let i = 0;
  const bad = (why: string): never => {
    throw new CheckFileError(`check file line ${line}: ${why}`);
  };
  const flush = () => {
    if (literal) pieces.push({ literal });
    literal = "";
  };
  while (i < text.length) {
    if (text.startsWith("{{", i)) {
      const end = regexEnd(text, i + 2, "}}");
      if (end < 0) bad(`unclosed '{{' in '${text}'`);
      const regex = text.slice(i + 2, end);
      if (!regex) bad(`empty '{{}}' in '${text}'`);
      try {
        new RegExp(regex);
      } catch {
        bad(`invalid regex '${regex}'`);
      }
      flush();
      pieces.push({ regex });
      i = end + 2;
    } else if (text.startsWith("[[", i) && text[i + 2] !== "[") {
      // A capture's regex may hold brackets of its own; a use ends at the first "]]".
      const sep = text.indexOf(":", i + 2);
      const close = text.indexOf("]]", i + 2);
      const end = sep >= 0 && (close < 0 || sep < close) ? regexEnd(text, sep + 1, "]]") : close;
      if (end < 0) bad(`unclosed '[[' in '${text}'`);
      const body = text.slice(i + 2, end);
      const colon = body.indexOf(":");
      const name = colon < 0 ? body : body.slice(0, colon);
      if (!NAME.test(name)) bad(`'${name}' is not a variable name (letters, digits and '_', not starting with a digit)`);
      flush();
      if (colon < 0) pieces.push({ use: name });
      else {
        const regex = body.slice(colon + 1);
        if (!regex) bad(`variable '${name}' is defined by an empty regex`);
        try {
          new RegExp(regex);
        } catch {
          bad(`invalid regex '${regex}' for variable '${name}'`);
        }
        pieces.push({ define: name, regex });
      }
      i = end + 2;
    } else {
      literal += text[i++];
    }
  }
  flush();
  return pieces;
}

/** The check directives of a file, in order. Malformed or misspelt directives throw CheckFileError. */
export function parseDirectives(checkFile: string): Directive[] {
  const out: Directive[] = [];
  checkFile.split("\n").forEach((text, i) => {
    const line = i + 1;
    const m = DIRECTIVE.exec(text);
    if (!m) return;
    const [, word, colon, rest] = m as unknown as [string, string, string, string];
    const count = /^CHECK-COUNT-(\d+)$/.exec(word);
    if (!colon || (!KINDS.has(word) && !count)) throw new CheckFileError(`check file line ${line}: unknown directive '${word}${colon}' (a misspelt check never fails)`);
    const source = rest.trim();
    if (!source) throw new CheckFileError(`check file line ${line}: ${word} has an empty pattern`);
    const pieces = parsePattern(source, line);
    const kind = (count ? "CHECK" : word) as CheckKind;
    if (kind === "CHECK-LABEL" && pieces.some((p) => "use" in p || "define" in p)) {
      throw new CheckFileError(`check file line ${line}: CHECK-LABEL cannot use or capture variables (labels are found before the other checks)`);
    }
    const times = count ? Number(count[1]) : 1;
    if (times < 1) throw new CheckFileError(`check file line ${line}: ${word} must count at least 1`);
    for (let k = 0; k < times; k++) out.push({ kind, source, line, pieces });
  });
  return out;
}

interface Pos { readonly line: number; readonly col: number }
interface Match { readonly line: number; readonly start: number; readonly end: number; readonly groups: Record<string, string> }

const before = (a: Pos, b: Pos) => a.line < b.line || (a.line === b.line && a.col < b.col);
const startOf = (m: Match): Pos => ({ line: m.line, col: m.start });
const endOf = (m: Match): Pos => ({ line: m.line, col: m.end });

class Failure extends Error {
  constructor(readonly directive: Directive, readonly why: string, readonly at: Pos) {
    super(why);
  }
}

class Checker {
  private readonly lines: string[];
  private readonly vars = new Map<string, string>();

  constructor(input: string) {
    this.lines = input.split("\n");
  }

  get end(): Pos {
    return { line: this.lines.length - 1, col: this.lines.at(-1)!.length };
  }

  /** The pattern as a regex, with uses replaced by their current values. */
  regex(d: Directive, at: Pos): RegExp {
    const defined = new Set<string>();
    const body = d.pieces.map((p) => {
      if ("literal" in p) return escape(p.literal);
      if ("define" in p) {
        if (defined.has(p.define)) throw new Failure(d, `variable '${p.define}' is captured twice in one pattern`, at);
        defined.add(p.define);
        return `(?<${p.define}>${p.regex})`;
      }
      if ("use" in p) {
        if (defined.has(p.use)) return `\\k<${p.use}>`;
        const value = this.vars.get(p.use);
        if (value === undefined) throw new Failure(d, `variable '${p.use}' is used but never captured before this check`, at);
        return escape(value);
      }
      return `(?:${p.regex})`;
    });
    return new RegExp(body.join(""), "g");
  }

  /** Values of the variables a directive uses, for messages. */
  uses(d: Directive): string {
    const used = d.pieces.flatMap((p) => ("use" in p && this.vars.has(p.use) ? [`[[${p.use}]] = '${this.vars.get(p.use)}'`] : []));
    return used.length ? ` (with ${used.join(", ")})` : "";
  }

  /** The first match of `re` lying within [from, to), skipping those `skip` rejects. */
  find(re: RegExp, from: Pos, to: Pos, skip: (m: Match) => boolean = () => false): Match | null {
    for (let l = from.line; l <= to.line && l < this.lines.length; l++) {
      const text = this.lines[l]!;
      const limit = l === to.line ? to.col : text.length;
      let col = l === from.line ? from.col : 0;
      while (col <= limit) {
        re.lastIndex = col;
        const m = re.exec(text);
        if (!m || m.index > limit) break;
        const found: Match = { line: l, start: m.index, end: m.index + m[0].length, groups: { ...m.groups } };
        if (found.end <= limit && !skip(found)) return found;
        col = m.index + 1;
      }
    }
    return null;
  }

  capture(m: Match): void {
    for (const [name, value] of Object.entries(m.groups)) this.vars.set(name, value);
  }

  /** Lines of input around `at`, numbered from 1, the start marked. */
  excerpt(at: Pos): string {
    const first = Math.max(0, at.line - 2);
    const last = Math.min(this.lines.length - 1, at.line + 4);
    const width = String(last + 1).length;
    const out: string[] = [];
    for (let l = first; l <= last; l++) {
      out.push(`${l === at.line ? ">" : " "} ${String(l + 1).padStart(width)} | ${this.lines[l]}`);
      if (l === at.line) out.push(`  ${" ".repeat(width)} | ${" ".repeat(at.col)}^`);
    }
    return out.join("\n");
  }

  /** Where a pattern occurs in [from, to), for "found instead at" hints. */
  where(re: RegExp, from: Pos, to: Pos): string {
    const m = this.find(re, from, to);
    return m ? `; it occurs on input line ${m.line + 1}` : "";
  }

  checkNots(nots: readonly { d: Directive; re: RegExp }[], from: Pos, to: Pos): void {
    for (const { d, re } of nots) {
      const m = this.find(re, from, to);
      if (m) throw new Failure(d, `found on input line ${m.line + 1}, column ${m.start + 1}: ${this.lines[m.line]}${this.uses(d)}`, from);
    }
  }

  /** Run the directives of one block, [from, to), after `label` (the label's match, if any). */
  block(directives: readonly Directive[], from: Pos, to: Pos, label: Match | null): void {
    let cursor = from;
    let previous = label;
    let nots: { d: Directive; re: RegExp }[] = [];
    for (let i = 0; i < directives.length; i++) {
      const d = directives[i]!;
      if (d.kind === "CHECK-NOT") {
        nots.push({ d, re: this.regex(d, cursor) });
        continue;
      }
      if (d.kind === "CHECK-DAG") {
        const group: Directive[] = [];
        while (directives[i]?.kind === "CHECK-DAG") group.push(directives[i++]!);
        i--;
        const matches: Match[] = [];
        const overlaps = (m: Match) => matches.some((o) => o.line === m.line && m.start < o.end && o.start < m.end);
        for (const g of group) {
          const re = this.regex(g, cursor);
          const m = this.find(re, cursor, to, overlaps);
          if (!m) {
            const clash = this.find(re, cursor, to) ? " without overlapping another CHECK-DAG match of its group" : "";
            throw new Failure(g, `not found${clash}${this.uses(g)}`, cursor);
          }
          matches.push(m);
          this.capture(m);
        }
        const first = matches.reduce((a, b) => (before(startOf(b), startOf(a)) ? b : a));
        const last = matches.reduce((a, b) => (before(endOf(a), endOf(b)) ? b : a));
        this.checkNots(nots, cursor, startOf(first));
        nots = [];
        previous = last;
        cursor = endOf(last);
        continue;
      }
      const re = this.regex(d, cursor);
      let m: Match | null;
      if (d.kind === "CHECK") {
        m = this.find(re, cursor, to);
        if (!m) throw new Failure(d, `not found${this.uses(d)}`, cursor);
      } else {
        const prior = directives[i - 1];
        if (!previous || prior?.kind === "CHECK-DAG") {
          throw new CheckFileError(`check file line ${d.line}: ${d.kind} needs a CHECK, CHECK-NEXT, CHECK-SAME or CHECK-LABEL match before it`);
        }
        if (d.kind === "CHECK-NEXT") {
          const line = previous.line + 1;
          const lineEnd = line === to.line ? to.col : (this.lines[line]?.length ?? 0);
          m = line <= to.line && line < this.lines.length ? this.find(re, { line, col: 0 }, { line, col: lineEnd }) : null;
          if (!m) {
            throw new Failure(d, `not on input line ${line + 1}, the line after the previous match${this.uses(d)}${this.where(re, { line: line + 1, col: 0 }, to)}`, { line: Math.min(line, this.lines.length - 1), col: 0 });
          }
        } else {
          m = this.find(re, endOf(previous), { line: previous.line, col: previous.line === to.line ? to.col : this.lines[previous.line]!.length });
          if (!m) throw new Failure(d, `not on input line ${previous.line + 1} after the previous match${this.uses(d)}${this.where(re, endOf(previous), to)}`, endOf(previous));
        }
      }
      this.checkNots(nots, cursor, startOf(m));
      nots = [];
      this.capture(m);
      previous = m;
      cursor = endOf(m);
    }
    this.checkNots(nots, cursor, to);
  }

  run(directives: readonly Directive[]): void {
    // Labels first, in order over the whole input; each block runs up to the next label.
    const blocks: { label: Match | null; directives: Directive[] }[] = [{ label: null, directives: [] }];
    let cursor: Pos = { line: 0, col: 0 };
    for (const d of directives) {
      if (d.kind !== "CHECK-LABEL") {
        blocks.at(-1)!.directives.push(d);
        continue;
      }
      const m = this.find(this.regex(d, cursor), cursor, this.end);
      if (!m) throw new Failure(d, "label not found", cursor);
      blocks.push({ label: m, directives: [] });
      cursor = endOf(m);
    }
    blocks.forEach((b, i) => {
      const next = blocks[i + 1]?.label;
      this.block(b.directives, b.label ? endOf(b.label) : { line: 0, col: 0 }, next ? startOf(next) : this.end, b.label);
    });
  }
}

export interface FileCheckOptions {
  /** Named in messages before the check file's line. */
  readonly checkFile?: string;
}

/**
 * Check `input` against the CHECK lines of `checkFile`. Returns null when every check holds,
 * else one message: the check file's line, the directive and its pattern, why it failed,
 * and the input around where the search started.
 */
export function fileCheck(input: string, checkFile: string, options: FileCheckOptions = {}): string | null {
  const where = options.checkFile ? `${options.checkFile}:` : "check file line ";
  let directives: Directive[];
  try {
    directives = parseDirectives(checkFile);
  } catch (err) {
    if (err instanceof CheckFileError) return err.message;
    throw err;
  }
  if (directives.length === 0) return "no CHECK lines";
  const checker = new Checker(input);
  try {
    checker.run(directives);
    return null;
  } catch (err) {
    if (err instanceof CheckFileError) return err.message;
    if (!(err instanceof Failure)) throw err;
    const d = err.directive;
    return [
      `${where}${d.line}: ${d.kind}: ${d.source}`,
      `  ${err.why}`,
      `  input from line ${err.at.line + 1}, column ${err.at.col + 1}, where the search started:`,
      checker.excerpt(err.at),
    ].join("\n");
  }
}
