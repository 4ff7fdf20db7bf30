// The cost of collectives over a node's socket-to-socket links.
//
// Algorithm: every socket reaches every other in one step (a switch such as
// NVSwitch, or a full mesh of peer-to-peer links), each socket sends at the
// link bandwidth `bw` and each step costs the latency `L`. Then, for B bytes
// per socket and R sockets:
//   all-reduce      2 L + 2 (R - 1) / R * B / bw   (reduce-scatter, then all-gather)
//   reduce-scatter  L + (R - 1) / R * B / bw
//   all-gather      L + (R - 1) / R * B / bw      (B: the gathered tensor)
//   all-to-all      L + (R - 1) / R * B / bw      (B: what one socket holds before)
//   send            L + B / bw                    (one socket to another)
// The bandwidth terms are those of the ring algorithms (Patarasuk and Yuan,
// "Bandwidth optimal all-reduce algorithms", 2009; what NCCL's rings reach);
// a fully connected fabric needs two steps, not 2 (R - 1), so the latency term
// does not grow with R.
// Known weakness: no contention, topology or message-size protocols (NCCL
// switches between LL, LL128 and Simple); on a ring-wired node small
// collectives would cost 2 (R - 1) L.

import type { CollectiveKind } from "../../ir/placement/plan.js";
import type { NodeSpec } from "../../targets/target.js";

export type { CollectiveKind };

/** Graph-level op name a collective kernel carries (ops of the dataflow kernel kind "collective"). */
export const COLLECTIVE_OPS: Readonly<Record<CollectiveKind, string>> = {
  "all-reduce": "tierflow.AllReduce",
  "reduce-scatter": "tierflow.ReduceScatter",
  "all-gather": "tierflow.AllGather",
  "all-to-all": "tierflow.AllToAll",
  send: "tierflow.Send",
};

export function collectiveOfOp(op: string): CollectiveKind | undefined {
  return (Object.keys(COLLECTIVE_OPS) as CollectiveKind[]).find((k) => COLLECTIVE_OPS[k] === op);
}

export interface CollectiveCost {
  /** Bytes over the links divided by their bandwidth: overlaps compute when streamed. */
  readonly transferSeconds: number;
  /** The steps' fixed cost: on the critical path. */
  readonly latencySeconds: number;
  /** Bytes one socket sends. */
  readonly bytesSent: number;
}

/** Cost of one collective of `bytes` per socket over `sockets` sockets. */
export function collectiveCost(kind: CollectiveKind, bytes: number, sockets: number, link: NodeSpec["link"]): CollectiveCost {
  if (sockets <= 1 && kind !== "send") return { transferSeconds: 0, latencySeconds: 0, bytesSent: 0 };
  const share = (sockets - 1) / sockets;
  const [sent, steps] =
    kind === "all-reduce" ? [2 * share * bytes, 2]
      : kind === "send" ? [bytes, 1]
        : [share * bytes, 1];
  return { transferSeconds: sent / link.bandwidth, latencySeconds: steps * link.latencySeconds, bytesSent: sent };
}

export function collectiveSeconds(kind: CollectiveKind, bytes: number, sockets: number, link: NodeSpec["link"]): number {
  const c = collectiveCost(kind, bytes, sockets, link);
  return c.transferSeconds + c.latencySeconds;
}
