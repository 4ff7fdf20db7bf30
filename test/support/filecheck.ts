// A small FileCheck: the directives of LLVM's tool that pass tests use.
//   CHECK: text        next line at or after the current position containing text
//   CHECK-NEXT: text   the line right after the previous match
//   CHECK-SAME: text   the rest of the previous matched line
//   CHECK-NOT: text    not between the previous match and the next one
//   CHECK-COUNT-N: t   N consecutive CHECKs of t
// Text may hold {{regex}} parts. Returns null on success or a message.

interface Directive {
  readonly kind: "CHECK" | "CHECK-NEXT" | "CHECK-SAME" | "CHECK-NOT";
  readonly pattern: RegExp;
  readonly source: string;
  readonly line: number;
}

function compile(text: string): RegExp {
  const parts = text.trim().split(/(\{\{.*?\}\})/);
  const body = parts.map((p) => (p.startsWith("{{") ? `(?:${p.slice(2, -2)})` : p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(body);
}

export function parseDirectives(checkFile: string): Directive[] {
  const out: Directive[] = [];
  checkFile.split("\n").forEach((line, i) => {
    const m = /\/\/\s*(CHECK(?:-NEXT|-SAME|-NOT|-COUNT-(\d+))?):(.*)$/.exec(line);
    if (!m) return;
    const count = m[2] ? Number(m[2]) : 1;
    const kind = (m[2] ? "CHECK" : m[1]) as Directive["kind"];
    for (let k = 0; k < count; k++) out.push({ kind, pattern: compile(m[3]!), source: m[3]!.trim(), line: i + 1 });
  });
  return out;
}

export function fileCheck(output: string, checkFile: string): string | null {
  const lines = output.split("\n");
  const directives = parseDirectives(checkFile);
  if (directives.length === 0) return "no CHECK lines";
  let pos = 0; // next line to search
  let last = -1; // line of the previous match
  let lastCol = 0;
  const pendingNot: Directive[] = [];
  const fail = (d: Directive, why: string) =>
    `check line ${d.line}: ${d.kind}: ${d.source}\n  ${why}\n--- output ---\n${output}`;
  for (const d of directives) {
    if (d.kind === "CHECK-NOT") {
      pendingNot.push(d);
      continue;
    }
    let found = -1;
    if (d.kind === "CHECK") {
      for (let i = pos; i < lines.length; i++) if (d.pattern.test(lines[i]!)) { found = i; break; }
    } else if (d.kind === "CHECK-NEXT") {
      if (d.pattern.test(lines[last + 1] ?? "")) found = last + 1;
    } else {
      const m = d.pattern.exec((lines[last] ?? "").slice(lastCol));
      if (m) {
        lastCol += m.index + m[0].length;
        continue;
      }
    }
    if (found < 0) return fail(d, d.kind === "CHECK" ? "not found after line " + pos : `not on the expected line`);
    for (const n of pendingNot) {
      for (let i = pos; i < found; i++) if (n.pattern.test(lines[i]!)) return fail(n, `found on output line ${i + 1}: ${lines[i]}`);
    }
    pendingNot.length = 0;
    const m = d.pattern.exec(lines[found]!)!;
    lastCol = m.index + m[0].length;
    last = found;
    pos = found + 1;
  }
  for (const n of pendingNot) {
    for (let i = pos; i < lines.length; i++) if (n.pattern.test(lines[i]!)) return fail(n, `found on output line ${i + 1}: ${lines[i]}`);
  }
  return null;
}
