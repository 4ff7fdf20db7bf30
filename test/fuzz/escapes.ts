// Paths that lead out of the folder an input may use. A CoE manifest's paths
// (its target among them) resolve inside the manifest's folder; a plan names
// its model by a plain file name and runs only with a file of its sha256. Each
// case lives in a folder of its own making, beside an "outside" folder holding
// a secret: a case that reads a path outside, uses a file that is not the
// plan's model or echoes the secret in an error is an escape, a defect.

import { copyFileSync, existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve, sep } from "node:path";
import { createHash } from "node:crypto";
import { isTargetPath, parseManifest } from "../../compiler/coe/manifest.js";
import type { Manifest } from "../../compiler/coe/manifest.js";
import { loadTarget } from "../../targets/target.js";
import { fileSha256, openPlan } from "../../compiler/open-plan.js";
import { PROTO_NAMES, Rng, setOwnKey } from "./harness.js";
import { holdFifo, makeFifo } from "./files.js";

/** Text planted outside each case's folder; no error may ever show it. */
export const SECRET = "tierflow-fuzz-secret-7f3a";

/** An error that echoes the secret is an escape; anything else passes through. */
export function noEcho(err: unknown): never {
  if (err instanceof Error && err.message.includes(SECRET)) throw new Error(`an error echoed a file outside the case's folder: ${err.message.slice(0, 160)}`);
  throw err;
}

function inside(folder: string, path: string): boolean {
  const real = existsSync(path) ? realpathSync(path) : resolve(path);
  const base = realpathSync(folder);
  return real === base || real.startsWith(base + sep);
}

// ---- CoE manifests ------------------------------------------------------------

export interface ManifestFolder {
  readonly folder: string;
  readonly file: string;
  readonly outside: string;
  readonly fifo?: string;
  /** Target values: preset names, files inside, and every way out. */
  readonly targets: readonly string[];
}

/**
 * A manifest's folder with its models (empty files: a manifest is parsed, not
 * compiled), target files of every shape, and an outside folder with a secret.
 */
export function manifestFolder(root: string, toyTarget: string): ManifestFolder {
  const outside = join(root, "outside"), folder = join(root, "coe");
  for (const d of [outside, folder, join(folder, "base"), join(folder, "experts"), join(folder, "sub"), join(folder, "t-folder.json")]) mkdirSync(d, { recursive: true });
  writeFileSync(join(outside, "secret.json"), `{"secret": "${SECRET}"}`);
  copyFileSync(toyTarget, join(outside, "target.json")); // a valid target, outside: reading it is an escape all the same
  for (const f of ["router.onnx", "base/model.onnx", "experts/story.onnx"]) writeFileSync(join(folder, f), "");
  copyFileSync(toyTarget, join(folder, "t.json"));
  copyFileSync(toyTarget, join(folder, "sub", "t.json"));
  writeFileSync(join(folder, "t-secret.json"), `{"name": "${SECRET}"`); // inside but not JSON: its text must not be echoed either
  symlinkSync("/dev/zero", join(folder, "t-zero.json"));
  symlinkSync(join(outside, "target.json"), join(folder, "t-out.json"));
  symlinkSync("../outside/secret.json", join(folder, "t-up.json"));
  symlinkSync("t.json", join(folder, "t-in.json"));
  const fifo = makeFifo(join(folder, "t-fifo.json")) ? join(folder, "t-fifo.json") : undefined;
  const targets = [
    "toy", "sn40l-node", "t.json", "./t.json", "sub/t.json", "sub/../t.json", "t-in.json", "t-folder.json", "t-secret.json",
    "t-zero.json", "t-out.json", "t-up.json", "missing.json", ...(fifo ? ["t-fifo.json"] : []),
    "../outside/secret.json", "../outside/target.json", "sub/../../outside/target.json", join(outside, "target.json"),
    "/dev/zero", "/etc/passwd", "/dev/stdin", "C:\\t.json", "\\\\server\\share\\t.json", "t.json\u0000.txt", "..", ".", "",
    "../coe/t.json", "~/t.json", "%2e%2e/outside/target.json", ...PROTO_NAMES,
  ];
  return { folder, file: join(folder, "coe.json"), outside, ...(fifo ? { fifo } : {}), targets };
}

const ROUTES = ["0", "1", "2", "01", "00", "-1", "+1", " 1", "1.0", "1e20", "100000000000000000000", "2147483646", "2147483647",
  "4294967296", "9007199254740993", ...PROTO_NAMES];
const SHARES = [0, 0.25, 0.5, 0.6, 1, 1.0000001, 1.5, 1e308, 5e-324, -0.1];
const MODEL_PATHS = ["router.onnx", "base/model.onnx", "experts/story.onnx", "../outside/secret.json", "/dev/zero", "t-zero.json",
  "t-out.json", "t-folder.json", "sub/../base/model.onnx", "", "missing.onnx", "t-fifo.json"];

/** The manifest with hostile fields: its target, its routes, its shares, its paths, prototype-named experts. */
export function hostileManifest(rng: Rng, base: unknown, folder: ManifestFolder): unknown {
  const m = structuredClone(base) as {
    target?: string; router: { model: string; routes: Record<string, string> };
    experts: Record<string, { model?: string; graph?: string; weights?: string; share?: number }>;
  };
  const names = Object.keys(m.experts);
  for (let k = 1 + rng.int(2); k > 0; k--) {
    switch (rng.int(5)) {
      case 0: m.target = rng.pick(folder.targets); break;
      case 1: { // routes spelt twice, out of range or prototype-named
        const routes: Record<string, string> = {};
        for (let r = 1 + rng.int(3); r > 0; r--) setOwnKey(routes, rng.pick(ROUTES), rng.pick([...names, ...PROTO_NAMES]));
        m.router.routes = routes;
        break;
      }
      case 2: // shares that sum past 1, or are out of range
        for (const name of names) if (rng.chance(0.6)) m.experts[name]!.share = rng.pick(SHARES);
        break;
      case 3: { // a model, graph or weights path leading out, or to something that is not a file
        const e = m.experts[rng.pick(names)]!;
        const path = rng.pick(MODEL_PATHS);
        if (rng.chance(0.3)) m.router.model = path;
        else if (e.model !== undefined) e.model = path;
        else if (rng.chance(0.5)) e.graph = path;
        else e.weights = path;
        break;
      }
      default: { // an expert named after a prototype member, routed to
        const name = rng.pick(PROTO_NAMES);
        setOwnKey(m.experts, name, { model: "experts/story.onnx" });
        m.router.routes = { ...m.router.routes };
        setOwnKey(m.router.routes, "0", name);
      }
    }
  }
  return m;
}

/**
 * Parse a manifest in its folder; then every path it resolved must lie inside
 * the folder, and its target, when a file, is read (as compile reads it).
 */
export function checkManifest(json: unknown, folder: ManifestFolder, text: string): void {
  const release = folder.fifo && text.includes("t-fifo") ? holdFifo(folder.fifo) : () => {};
  try {
    let m: Manifest;
    try {
      m = parseManifest(json, folder.file);
    } catch (err) {
      noEcho(err);
    }
    const paths = [m.router.model, ...m.experts.flatMap((e) => [e.graph, ...(e.weights !== undefined ? [e.weights] : [])])]
      .map((p) => (isAbsolute(p) ? p : join(m.dir, p)));
    if (m.target !== undefined && isTargetPath(m.target)) paths.push(m.target);
    for (const p of paths) if (!inside(folder.folder, p)) throw new Error(`escape: the manifest resolved '${p}', outside its folder`);
    if (m.target !== undefined && isTargetPath(m.target)) {
      try {
        loadTarget(m.target);
      } catch (err) {
        noEcho(err);
      }
    }
  } finally {
    release();
  }
}

// ---- a plan's model ------------------------------------------------------------

export interface PlanFolder {
  readonly folder: string;
  readonly file: string;
  readonly fifo?: string;
  readonly secretSha: string;
  readonly files: readonly string[];
  readonly given: readonly string[];
}

/** A plan's folder with a FIFO, a folder, links to /dev/zero and out, and an outside folder with a secret. */
export function planFolder(root: string): PlanFolder {
  const outside = join(root, "outside"), folder = join(root, "plan");
  for (const d of [outside, folder, join(folder, "m-folder.onnx")]) mkdirSync(d, { recursive: true });
  writeFileSync(join(outside, "secret.onnx"), SECRET);
  writeFileSync(join(folder, "m-secret.onnx"), SECRET);
  symlinkSync("/dev/zero", join(folder, "m-zero.onnx"));
  symlinkSync(join(outside, "secret.onnx"), join(folder, "m-out.onnx"));
  const fifo = makeFifo(join(folder, "m-fifo.onnx")) ? join(folder, "m-fifo.onnx") : undefined;
  const secretSha = createHash("sha256").update(SECRET).digest("hex");
  const files = ["m-folder.onnx", "m-zero.onnx", "m-out.onnx", "m-secret.onnx", "../outside/secret.onnx", "/dev/zero", "..", ".", "",
    "a/b.onnx", "C:m.onnx", "m\u0000.onnx", "missing.onnx", ...(fifo ? ["m-fifo.onnx"] : []), ...PROTO_NAMES];
  const given = ["/dev/zero", "/dev/stdin", join(outside, "secret.onnx"), "../outside/secret.onnx", join(folder, "m-folder.onnx"),
    join(folder, "m-zero.onnx"), "", "m\u0000.onnx", ...(fifo ? [fifo] : []), ...PROTO_NAMES];
  return { folder, file: join(folder, "plan.json"), ...(fifo ? { fifo } : {}), secretSha, files, given };
}

/**
 * The plan's model fields made hostile: its file name, the path compile was
 * given, and sometimes a sha256 that an outside file has. The recorded path
 * never leads to the real model, so no case may open the plan.
 */
export function hostilePlanModel(rng: Rng, plan: unknown, folder: PlanFolder): unknown {
  const p = structuredClone(plan) as { model: Record<string, unknown> };
  p.model.given = rng.pick(folder.given);
  if (rng.chance(0.7)) p.model.file = rng.pick(folder.files);
  if (rng.chance(0.3)) p.model.path = rng.pick([...folder.files, ...folder.given]);
  if (rng.chance(0.3)) p.model.sha256 = folder.secretSha;
  if (rng.chance(0.1)) setOwnKey(p.model, rng.pick(PROTO_NAMES), rng.pick(folder.given));
  return p;
}

/** Open the plan as run and verify do: it must be refused, and never with the secret in the message. */
export async function checkPlanModel(text: string, folder: PlanFolder): Promise<void> {
  writeFileSync(folder.file, text);
  const release = folder.fifo && text.includes("m-fifo") ? holdFifo(folder.fifo) : () => {};
  try {
    const opened = await openPlan(folder.file).catch(noEcho);
    const what = opened.plan.model.sha256 === fileSha256(opened.modelPath) ? "a file of its sha256" : "a file of another sha256";
    throw new Error(`escape: a plan whose model paths lead nowhere opened '${opened.modelPath}', ${what}`);
  } finally {
    release();
  }
}
