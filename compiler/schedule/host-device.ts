// The host/device split, closed under value dependencies. Lowering puts small
// integer shape arithmetic on the host and everything else on the device; but
// a host kernel computes with the *values* of its inputs (a Slice's bounds, a
// Gather's indices), and the host holds only its own results, the graph's
// inputs and literals, and the shapes of device tensors. So every value a host
// kernel reads must either be computed on the host too or be read back from
// the device by an explicit transfer, which the placement adds (Transfer to
// "host") and the sectioning makes possible (the reader starts a section after
// the writer's).
//
// Algorithm: walk the kernels in program order. For a host kernel's input
// whose value lives on the device, weigh two ways of getting it to the host:
//   move   recompute its producer on the host, recursively, when every value
//          that producer reads can reach the host the same way (never a
//          weight, a KV cache, attention or a collective: their bytes stay on
//          the device). What a moved kernel produces for device readers
//          crosses the host link once.
//   read   copy the value back: its bytes over the host link plus the launch
//          and section switch the synchronisation costs (the device must have
//          finished the producing section before the host reads).
// The cheaper wins; host work itself is taken to overlap the device (the host
// computes ahead while earlier sections run, as launch code does), so only
// what crosses the link and the synchronisation are weighed.
// Known weakness: a producer shared by several host readers is weighed per
// reader, and the move is all-or-nothing along the chain (no cut in the
// middle of a chain of producers).

import type { DataflowModule, DfKernel } from "../../ir/dataflow/dataflow.js";
import { tensorMap } from "../../ir/dataflow/dataflow.js";
import { KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import type { Target } from "../../targets/target.js";
import { deriveStreams } from "../lower/to-dataflow.js";
import { SHAPE_ONLY_OPS } from "../../ir/placement/legality.js";


/** The inputs a host kernel reads the values of (all but a Shape's or Size's data). */
export function valueInputs(k: DfKernel): readonly string[] {
  return k.ops.length === 1 && SHAPE_ONLY_OPS.has(k.ops[0]!) ? [] : k.inputs;
}

const isDevice = (k: DfKernel) => KERNEL_KINDS[k.kind]?.device ?? true;

/** Kinds whose work cannot leave the device: their operands are weights, caches or other sockets' data. */
const PINNED_KINDS: ReadonlySet<string> = new Set(["attention", "collective"]);

/** The same kernel run by the host: no device work, tiles or on-chip buffers. */
function onHost(k: DfKernel): DfKernel {
  return { ...k, kind: "host", flops: 0, reads: {}, streaming: "none", tiling: { tileShape: [], tiles: 0, blocks: 1 }, bufferBytes: 0 };
}

export function partitionHostDevice(m: DataflowModule, target: Target): DataflowModule {
  const tensors = tensorMap(m);
  const kernels = [...m.kernels];
  const index = new Map<string, number>(kernels.map((k, i) => [k.name, i]));
  const producer = new Map<string, string>();
  for (const k of kernels) for (const o of k.outputs) producer.set(o, k.name);
  const kernelOf = (name: string) => kernels[index.get(name)!]!;
  // Views share their input's bytes: a view of a host value is a host value.
  const viewRoot = (t: string): string => {
    const p = producer.get(t);
    const k = p !== undefined ? kernelOf(p) : undefined;
    return k && k.kind === "view" && k.inputs[0] !== undefined ? viewRoot(k.inputs[0]) : t;
  };
  const readers = new Map<string, string[]>();
  for (const k of kernels) {
    for (const i of new Set(k.inputs)) {
      const list = readers.get(i);
      if (list) list.push(k.name);
      else readers.set(i, [k.name]);
    }
  }

  const onTheHost = (t: string): boolean => {
    const root = viewRoot(t), role = tensors.get(root)?.role;
    if (role === "input" || role === "constant") return true;
    const p = producer.get(root);
    return p !== undefined && kernelOf(p).kind === "host";
  };
  const linkSeconds = (bytes: number) => bytes / target.host.bandwidth;
  const readSeconds = (t: string) => linkSeconds(tensors.get(viewRoot(t))?.bytes ?? 0) + target.overheads.launchSeconds + target.overheads.sectionSwitchSeconds;

  /** The device kernels to run on the host so that `t` is known there, or undefined when some value cannot get there. */
  const chain = (t: string, into: Set<string>): Set<string> | undefined => {
    if (onTheHost(t)) return into;
    const root = viewRoot(t);
    const p = producer.get(root);
    if (p === undefined || into.has(p)) return p === undefined ? undefined : into;
    const k = kernelOf(p);
    if (PINNED_KINDS.has(k.kind) || !isDevice(k)) return undefined;
    into.add(p);
    for (const i of valueInputs(k)) {
      const role = tensors.get(viewRoot(i))?.role;
      if (role === "weight" || role === "kv-cache") return undefined;
      if (!chain(i, into)) return undefined;
    }
    return into;
  };
  /** What moving `moved` sends over the link: their outputs that device kernels read. */
  const moveSeconds = (moved: ReadonlySet<string>) => {
    let bytes = 0;
    for (const name of moved) {
      for (const o of kernelOf(name).outputs) {
        const deviceReader = (readers.get(o) ?? []).some((r) => !moved.has(r) && isDevice(kernelOf(r)));
        if (deviceReader) bytes += tensors.get(o)?.bytes ?? 0;
      }
    }
    return linkSeconds(bytes);
  };

  for (let i = 0; i < kernels.length; i++) {
    const k = kernels[i]!;
    if (k.kind !== "host") continue;
    for (const input of valueInputs(k)) {
      if (onTheHost(input)) continue;
      const moved = chain(input, new Set());
      if (!moved || moveSeconds(moved) > readSeconds(input)) continue; // read back (placement adds the transfer)
      for (const name of moved) kernels[index.get(name)!] = onHost(kernelOf(name));
    }
  }
  const changed = kernels.some((k, i) => k !== m.kernels[i]);
  return changed ? { ...m, kernels, streams: deriveStreams(kernels, tensors) } : m;
}

/** Values that host kernels read from the device, by the host kernel reading them: each needs a transfer to the host. */
export function hostReadbacks(m: DataflowModule): { kernel: DfKernel; tensor: string }[] {
  const producer = new Map<string, DfKernel>();
  for (const k of m.kernels) for (const o of k.outputs) producer.set(o, k);
  const roles = new Map(m.tensors.map((t) => [t.name, t.role]));
  const root = (t: string): string => {
    const p = producer.get(t);
    return p && p.kind === "view" && p.inputs[0] !== undefined ? root(p.inputs[0]) : t;
  };
  const out: { kernel: DfKernel; tensor: string }[] = [];
  for (const k of m.kernels) {
    if (k.kind !== "host") continue;
    for (const input of new Set(valueInputs(k))) {
      const r = root(input), role = roles.get(r), p = producer.get(r);
      if (role === "input" || role === "constant" || (p && !isDevice(p))) continue;
      if (!out.some((x) => x.kernel === k && x.tensor === r)) out.push({ kernel: k, tensor: r });
    }
  }
  return out;
}
