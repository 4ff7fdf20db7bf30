// Collective kernels of a node-level plan, executed across the memories of a
// group's sockets. Each member reads its input where its plan puts it and
// writes its output where its plan puts it, under the same residency checks as
// any kernel; what moves between them is the link's business (the cost model
// prices it, compiler/node/collectives.ts).
//
//   all-reduce      every member gets the elementwise sum of every member's
//                   input, added in member order in float64 and rounded once,
//                   so all members hold the same bits
//   all-gather      the whole tensor from its parts: part p comes from the
//                   first member holding it (shards: member i holds part
//                   floor(i * parts / group))
//   reduce-scatter  the sum, of which each member keeps its own part
//   all-to-all      expert parallelism's exchange of tokens (tp = 1): the
//                   dispatch gives every member the group's tokens with their
//                   routing, in member order along axis 0; the combine gives
//                   each member the sum over members of the rows of its own
//                   tokens. Which of the two a kernel is follows from its
//                   shapes (output axis 0 = group x input's, or the reverse).
// A collective kernel may move several tensors at once (inputs[i] -> outputs[i]).

import type { DfKernel, DfTensor } from "../../ir/dataflow/dataflow.js";
import type { CollectiveKernel, TensorShard } from "../../ir/placement/plan.js";
import type { DType } from "../../ir/dtype.js";
import { dtypeBytes } from "../../ir/dtype.js";
import { ResidencyError } from "./arena.js";
import { message } from "../../ir/placement/legality.js";
import { bytesToTensor, tensorToBytes } from "./bytes.js";
import type { DeviceMemory } from "./memory.js";
import { partOf, slicePart } from "./socket-program.js";
import { product } from "./tiles.js";

const SUMMABLE: ReadonlySet<DType> = new Set(["f32", "f64", "f16", "bf16"]);

/** Concatenate parts along `axis` into a tensor of `dims` (the whole). */
function joinParts(parts: readonly Uint8Array[], dims: readonly number[], elem: number, axis: number): Uint8Array {
  const outer = product(dims.slice(0, axis)), row = product(dims.slice(axis)) * elem, chunk = row / parts.length;
  const out = new Uint8Array(outer * row);
  for (let r = 0; r < outer; r++) parts.forEach((p, i) => out.set(p.subarray(r * chunk, (r + 1) * chunk), r * row + i * chunk));
  return out;
}

/** Elementwise sum of same-shaped tensors' bytes in `t`'s dtype, in the order given. */
function sumBytes(inputs: readonly Uint8Array[], t: DfTensor, who: string): Uint8Array {
  if (!SUMMABLE.has(t.dtype)) throw new ResidencyError(`${who} sums '${t.name}', whose dtype ${t.dtype} is not a float`);
  const wide: DType = t.dtype === "f64" ? "f64" : "f32";
  const values = inputs.map((b) => bytesToTensor(b, t.dtype, wide, t.shape).data as Float32Array | Float64Array);
  const acc = new Float64Array(values[0]!.length);
  for (const v of values) for (let i = 0; i < acc.length; i++) acc[i]! += v[i]!;
  const data = wide === "f64" ? acc : Float32Array.from(acc);
  return tensorToBytes({ dtype: wide, dims: [...t.shape], data }, t.dtype);
}

function write(memory: DeviceMemory, name: string, bytes: Uint8Array, who: string): void {
  const dest = memory.destination(name, who);
  if (dest.data.byteLength !== bytes.byteLength) throw new ResidencyError(`${who} gives '${name}' ${bytes.byteLength} bytes, the plan sizes it ${dest.data.byteLength}`);
  dest.data.set(bytes);
  dest.commit();
}

const shapeText = (t: DfTensor) => `[${t.shape.join(", ")}]`;

/**
 * Run one collective kernel across the group's memories (member order; checkParallelPlan has
 * checked that the record spans the group). `who` names the kernel and section.
 */
export function runCollective(k: DfKernel, record: CollectiveKernel, group: readonly DeviceMemory[], shards: ReadonlyMap<string, TensorShard>, who: string): void {
  if (k.inputs.length !== k.outputs.length || k.inputs.length === 0) throw new ResidencyError(message.collectivePairs(who, k));
  const G = group.length;
  k.inputs.forEach((input, pair) => {
    const output = k.outputs[pair]!;
    const i = group[0]!.info(input), o = group[0]!.info(output);
    const elem = dtypeBytes(o.dtype);
    if (i.dtype !== o.dtype) throw new ResidencyError(message.collectiveDType(who, i, o));
    const read = group.map((m) => m.read(input, who));
    const problem = message.collectiveShapes(who, record.kind, i, o, G, shards);
    if (problem) throw new ResidencyError(problem);
    const each = (bytes: (member: number) => Uint8Array) => group.forEach((m, member) => write(m, output, bytes(member), who));
    switch (record.kind) {
      case "all-reduce": {
        if (i.bytes !== o.bytes) throw new ResidencyError(`${who} all-reduces '${input}' ${shapeText(i)} into '${output}' ${shapeText(o)}; the shapes must agree`);
        const sum = sumBytes(read, i, who);
        return each(() => sum);
      }
      case "all-gather": {
        const s = shards.get(input);
        if (!s || o.shape[s.axis] !== i.shape[s.axis]! * s.parts) {
          throw new ResidencyError(`${who} gathers '${input}' ${shapeText(i)} into '${output}' ${shapeText(o)}, but the plan's shards do not split '${input}' into the parts of '${output}'`);
        }
        const holders = Array.from({ length: s.parts }, (_, p) => group.findIndex((_m, member) => partOf(member, s.parts, G) === p));
        const whole = joinParts(holders.map((m) => read[m]!), o.shape, elem, s.axis);
        return each(() => whole);
      }
      case "reduce-scatter": {
        const s = shards.get(output);
        if (!s || i.shape[s.axis] !== o.shape[s.axis]! * s.parts) {
          throw new ResidencyError(`${who} scatters '${input}' ${shapeText(i)} into '${output}' ${shapeText(o)}, but the plan's shards do not split '${output}' that way`);
        }
        const sum = sumBytes(read, i, who);
        return each((member) => slicePart(sum, i.shape, elem, s.axis, s.parts, partOf(member, s.parts, G), output));
      }
      case "all-to-all": {
        if (o.shape[0] === G * i.shape[0]! && o.bytes === G * i.bytes) {
          const tokens = joinParts(read, o.shape, elem, 0);
          return each(() => tokens);
        }
        if (i.shape[0] === G * o.shape[0]! && i.bytes === G * o.bytes) {
          const sum = sumBytes(read, i, who);
          return each((member) => slicePart(sum, i.shape, elem, 0, G, member, output));
        }
        throw new ResidencyError(`${who} exchanges '${input}' ${shapeText(i)} for '${output}' ${shapeText(o)}: neither the group's ${G} members' tokens gathered nor returned`);
      }
      default:
        throw new ResidencyError(`${who} is a '${record.kind}', which is no collective kernel (stage-to-stage sends are the plan's sends)`);
    }
  });
}
