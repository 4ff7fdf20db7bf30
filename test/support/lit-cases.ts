// The parts of a lit test file beside its CHECK lines: `// -----` lines split it into
// independent cases, and `// expected-error` lines say which diagnostic a case must fail
// with and on which line.
//   // expected-error {{message}}          on this line (write it after the statement)
//   // expected-error@+N {{message}}       N lines below; @-N: N lines above
//   // expected-error@unlocated {{message}} a diagnostic that carries no line
// The message is a part of the diagnostic's text. A case with expected errors must fail
// with each of them and with nothing else.

/** One case of a lit file: its text keeps every other case's lines blank, so line numbers are the file's. */
export interface LitCase {
  /** 0-based index among the file's cases. */
  readonly index: number;
  /** 1-based lines of the file the case spans (separators excluded). */
  readonly firstLine: number;
  readonly lastLine: number;
  readonly text: string;
}

const SEPARATOR = /^\s*\/\/ -----\s*$/;

/** Split a lit file at its `// -----` lines. A file without them is one case. */
export function splitCases(text: string): LitCase[] {
  const lines = text.split("\n");
  const cases: LitCase[] = [];
  let first = 0;
  const close = (end: number) => {
    const body = lines.map((l, i) => (i >= first && i < end ? l : ""));
    cases.push({ index: cases.length, firstLine: first + 1, lastLine: end, text: body.join("\n") });
  };
  lines.forEach((l, i) => {
    if (!SEPARATOR.test(l)) return;
    close(i);
    first = i + 1;
  });
  close(lines.length);
  return cases;
}

/** A diagnostic a case expects: its message, and the line it must carry (null: no line). */
export interface ExpectedError {
  /** The line of the expected-error comment. */
  readonly line: number;
  readonly target: number | null;
  readonly message: string;
}

/** A diagnostic a case produced. */
export interface Diagnostic {
  readonly message: string;
  readonly line?: number;
}

const EXPECTED = /\/\/\s*expected-(\w+)(@\S*)?\s*(.*)$/;

/** The expected-error lines of a case. A malformed one throws, since it would check nothing. */
export function parseExpectedErrors(text: string): ExpectedError[] {
  const out: ExpectedError[] = [];
  text.split("\n").forEach((source, i) => {
    const m = EXPECTED.exec(source);
    if (!m) return;
    const line = i + 1;
    const [, what, at, rest] = m as unknown as [string, string, string | undefined, string];
    const bad = (why: string): never => {
      throw new Error(`line ${line}: ${why}: ${source.trim()}`);
    };
    if (what !== "error") bad(`only expected-error is supported, not expected-${what}`);
    let target: number | null = line;
    if (at === "@unlocated") target = null;
    else if (at !== undefined) {
      const offset = /^@([+-]\d+)$/.exec(at);
      if (!offset) bad(`'${at}' is not @+N, @-N or @unlocated`);
      target = line + Number(offset![1]);
    }
    const message = /^\{\{(.*)\}\}$/.exec(rest.trim());
    if (!message || !message[1]) bad("the message must be written {{message}}");
    out.push({ line, target, message: message![1]! });
  });
  return out;
}

const lineName = (line: number | null | undefined) => (line === null || line === undefined ? "no line" : `line ${line}`);

/**
 * Compare what a case produced with what it expects. Returns null when every expected
 * error was produced at its line and nothing else was, else one message.
 */
export function checkDiagnostics(expected: readonly ExpectedError[], produced: readonly Diagnostic[]): string | null {
  const unmatched = [...produced];
  const problems: string[] = [];
  for (const e of expected) {
    const at = unmatched.findIndex((d) => d.message.includes(e.message) && (d.line ?? null) === e.target);
    if (at >= 0) {
      unmatched.splice(at, 1);
      continue;
    }
    const elsewhere = unmatched.findIndex((d) => d.message.includes(e.message));
    if (elsewhere < 0) {
      problems.push(`expected-error (line ${e.line}) was not produced: '${e.message}' at ${lineName(e.target)}`);
      continue;
    }
    const [d] = unmatched.splice(elsewhere, 1);
    problems.push(`expected-error (line ${e.line}) wants ${lineName(e.target)}, but this came at ${lineName(d!.line)}: ${d!.message}`);
  }
  for (const d of unmatched) problems.push(`unexpected error at ${lineName(d.line)}: ${d.message}`);
  return problems.length ? problems.join("\n") : null;
}
