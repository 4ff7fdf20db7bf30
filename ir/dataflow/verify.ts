// Dataflow-level verifier: the boundary check after lowering. Every kernel has
// a known kind, reads only tensors that exist and are produced before it (or
// are inputs, weights, constants or KV caches), writes each tensor alone and
// never an input, weight or constant, FLOPs and bytes are finite and
// non-negative, and streams join real kernels.

import type { DataflowModule } from "./dataflow.js";
import { STREAM_KINDS, tensorMap } from "./dataflow.js";
import { kernelKind } from "./kinds.js";
import { fail } from "../diagnostics.js";

const AVAILABLE_FROM_START = new Set(["input", "weight", "constant", "kv-cache"]);
/** Roles no kernel writes: the module's inputs and what the plan loads. */
const READ_ONLY = new Set(["input", "weight", "constant"]);

export function verifyDataflow(m: DataflowModule): void {
  const tensors = tensorMap(m);
  if (tensors.size !== m.tensors.length) fail("dataflow module defines a tensor twice");
  const available = new Set(m.tensors.filter((t) => AVAILABLE_FROM_START.has(t.role)).map((t) => t.name));
  const kernels = new Set<string>();
  const writer = new Map<string, string>(); // tensor -> the kernel that writes it
  for (const k of m.kernels) {
    const where = { node: k.nodes[0] ?? k.name };
    if (kernels.has(k.name)) fail(`kernel ${k.name} is defined twice`, where);
    kernels.add(k.name);
    const kind = kernelKind(k.kind);
    if (!kind) fail(`kernel ${k.name} has unknown kind '${k.kind}' (illegal at the dataflow level)`, where);
    const streams = !Object.hasOwn(STREAM_KINDS, k.streaming) ? undefined
      : k.kind === "collective" ? k.streaming === "link" : kind.device ? k.streaming !== "none" && k.streaming !== "link" : k.streaming === "none";
    if (!streams) fail(`kernel ${k.name} of kind '${k.kind}' cannot stream as '${k.streaming}'`, where);
    if (!Number.isFinite(k.flops) || k.flops < 0) fail(`kernel ${k.name} has invalid FLOPs ${k.flops}`, where);
    if (k.bufferBytes < 0 || !Number.isFinite(k.bufferBytes)) fail(`kernel ${k.name} has invalid buffer size ${k.bufferBytes}`, where);
    for (const i of k.inputs) {
      if (!tensors.has(i)) fail(`kernel ${k.name} reads '${i}', which is not a tensor of the module`, where);
      if (!available.has(i)) fail(`kernel ${k.name} reads '${i}' before any kernel produces it`, where);
    }
    for (const [t, bytes] of Object.entries(k.reads)) {
      if (!k.inputs.includes(t)) fail(`kernel ${k.name} counts reads of '${t}', which it does not take`, where);
      if (!(bytes >= 0)) fail(`kernel ${k.name} reads a negative byte count of '${t}'`, where);
    }
    for (const o of k.outputs) {
      const t = tensors.get(o);
      if (!t) fail(`kernel ${k.name} writes '${o}', which is not a tensor of the module`, where);
      if (READ_ONLY.has(t.role)) fail(`kernel ${k.name} writes '${o}', a ${t.role}: only activations, outputs and KV caches are written`, where);
      const first = writer.get(o);
      if (first !== undefined) fail(`kernel ${k.name} writes '${o}', which kernel ${first} already writes`, where);
      writer.set(o, k.name);
      available.add(o);
    }
  }
  for (const o of m.outputs) if (!available.has(o)) fail(`output '${o}' is never produced`);
  for (const s of m.streams) {
    if (!kernels.has(s.from) || !kernels.has(s.to)) fail(`stream of '${s.tensor}' joins unknown kernels ${s.from} -> ${s.to}`);
  }
}
