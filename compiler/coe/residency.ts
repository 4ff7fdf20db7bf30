// Expert residency on a node: which experts live in HBM and which wait in DDR
// (host memory on GPU nodes), and what a switch costs.
//
// Algorithm (Samba-CoE, Prabhakar et al., MICRO 2024, section VI): every
// expert's home is the node's DDR; the router, the KV cache and one region for
// the active expert stay in HBM; HBM left over pins whole experts, hottest
// first (by expected request share, ties by manifest order). Experts that do
// not fit in DDR spill to storage and switch over the storage path.
// Known weakness: one active-expert region and whole-expert granularity; an
// expert is never split between HBM and DDR. The node is a node-level target
// (its experts' times come from parallel plans) or N copies of one socket
// with ideal tensor parallelism (no collective cost).

import type { Target } from "../../targets/target.js";

/** Storage read bandwidth when experts do not fit in DDR. Assumption: one NVMe Gen4 drive, 7 GB/s. */
export const STORAGE_BANDWIDTH = 7e9;

export interface NodeModel {
  readonly target: string;
  readonly sockets: number;
  readonly hbmBytes: number;
  /** DDR on a dataflow node (per socket x sockets); host memory on a GPU node (node-wide, as the GPU presets give it). */
  readonly memoryBytes: number;
  readonly switchPath: "ddr->hbm" | "host->hbm";
  readonly switchBandwidth: number;
  readonly storageBandwidth: number;
  readonly notes: readonly string[];
}

/** The `node` block of a node-level target (targets/target.schema.json), when there is one. */
export function nodeSpec(target: Target): { readonly sockets: number; readonly loadBandwidth: number } | undefined {
  return (target as { node?: { sockets: number; loadBandwidth: number } }).node;
}

/** The one-socket target a node target describes (its figures are per socket). */
export function socketTarget(target: Target): Target {
  if (nodeSpec(target) === undefined) return target;
  const { node: _, ...socket } = target as Target & { node?: unknown };
  return socket;
}

/**
 * A node: a node-level target's sockets and load bandwidth, or `sockets`
 * copies of a single-socket target (default 8).
 */
export function nodeOf(target: Target, sockets?: number, switchBandwidth?: number): NodeModel {
  const spec = nodeSpec(target);
  const n = spec?.sockets ?? sockets ?? 8;
  const dataflow = target.execution === "dataflow";
  const notes = [
    spec ? `${target.name}, one node of ${n} sockets: each expert's times come from the node compiler's parallel plans over the node; the router runs on one socket`
      : `one node of ${n} ${target.name} sockets, modelled with ideal tensor parallelism (compute time / ${n}, no collectives)`,
    dataflow ? "DDR is per socket: the node has sockets x ddr.bytes" : "host memory is node-wide: the node has the preset's ddr.bytes",
  ];
  const bw = switchBandwidth ?? spec?.loadBandwidth ?? (dataflow ? n * target.ddr.bandwidth : target.host.bandwidth);
  notes.push(switchBandwidth !== undefined ? `switch bandwidth given: ${bw / 1e9} GB/s`
    : spec ? `switch at the node's load bandwidth: ${bw / 1e9} GB/s`
      : dataflow ? `switch over every socket's DDR -> HBM path in parallel: ${bw / 1e9} GB/s`
        : `switch over one host link: ${bw / 1e9} GB/s (the SN40L paper's assumption for DGX)`);
  return {
    target: target.name, sockets: n, hbmBytes: n * target.hbm.bytes,
    memoryBytes: dataflow ? n * target.ddr.bytes : target.ddr.bytes,
    switchPath: dataflow ? "ddr->hbm" : "host->hbm", switchBandwidth: bw, storageBandwidth: STORAGE_BANDWIDTH, notes,
  };
}

export interface ResidencyExpert {
  readonly name: string;
  readonly bytes: number;
  readonly share: number;
}

export interface ExpertResidency {
  readonly name: string;
  readonly bytes: number;
  /** Where the expert's copy lives between requests. */
  readonly home: "hbm" | "ddr" | "storage";
  readonly pinned: boolean;
  readonly switchSeconds: number;
}

export interface Residency {
  readonly hbmReservedBytes: number;
  readonly activeRegionBytes: number;
  readonly pinnedBytes: number;
  readonly hbmFreeBytes: number;
  readonly ddrBytes: number;
  /** Experts that fit nowhere but storage: the node is out of memory for this CoE. */
  readonly spilledToStorage: number;
  readonly fitsHbm: boolean;
  readonly experts: readonly ExpertResidency[];
}

/** Place experts: HBM for the router, KV cache, active region and a pinned hot set; DDR for the rest; storage past DDR. */
export function planResidency(node: NodeModel, experts: readonly ResidencyExpert[], routerBytes: number, kvBytes: number, pinHot = true): Residency {
  const largest = experts.reduce((m, e) => Math.max(m, e.bytes), 0);
  const reserved = routerBytes + kvBytes;
  const fitsHbm = reserved + largest <= node.hbmBytes;
  let free = node.hbmBytes - reserved - largest;
  const order = experts.map((e, i) => ({ e, i })).sort((a, b) => b.e.share - a.e.share || a.i - b.i);
  const pinned = new Set<string>();
  if (pinHot && fitsHbm) for (const { e } of order) {
    if (e.bytes > free) break;
    pinned.add(e.name);
    free -= e.bytes;
  }
  let ddrLeft = node.memoryBytes;
  let spilled = 0;
  let pinnedBytes = 0;
  const out = experts.map((e): ExpertResidency => {
    const inDdr = e.bytes <= ddrLeft;
    if (inDdr) ddrLeft -= e.bytes;
    else spilled++;
    if (pinned.has(e.name)) pinnedBytes += e.bytes;
    const home = pinned.has(e.name) ? "hbm" : inDdr ? "ddr" : "storage";
    const switchSeconds = home === "hbm" ? 0 : e.bytes / (home === "ddr" ? node.switchBandwidth : node.storageBandwidth);
    return { name: e.name, bytes: e.bytes, home, pinned: pinned.has(e.name), switchSeconds };
  });
  return {
    hbmReservedBytes: reserved, activeRegionBytes: largest, pinnedBytes, hbmFreeBytes: Math.max(0, free),
    ddrBytes: node.memoryBytes - ddrLeft, spilledToStorage: spilled, fitsHbm, experts: out,
  };
}
