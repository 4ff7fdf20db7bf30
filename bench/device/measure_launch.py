"""Per-kernel overhead and copy bandwidths of one CUDA GPU, for a kernel-by-kernel cost model.

What it measures, on cuda device 0:

  * eager launches: N back-to-back elementwise kernels launched from PyTorch
    (`torch.add(a, 1, out=b)`, then `torch.add(b, 1, out=a)`, alternating two
    buffers), timed with CUDA events around the N launches and with the host
    clock (synchronize, launch, synchronize).  Median of REPS repetitions after
    one warm-up repetition.  Per kernel = time / N.
  * CUDA-graph replay: the same N kernels captured into one torch.cuda.CUDAGraph,
    replayed REPLAYS times after WARMUP replays; each replay timed with its own
    pair of CUDA events (replays enqueued back to back, one synchronize at the
    end), plus the host clock over all replays.  Per kernel = median replay / N.
    A second graph with N/4 kernels gives the marginal cost of one more kernel
    (slope), free of the fixed cost of launching a graph.
  * the same graph with two ops alternating (`add`, then `mul`), to check that
    the figure is not specific to one op.
  * tensor sizes: 1 KiB (256 float32: the time is all overhead), 4 MiB (the
    bandwidth part appears; note that 4 MiB in and 4 MiB out still fit in the
    H100's 50 MB L2), 64 MiB (in + out exceed L2, so the kernel streams HBM).
  * copy bandwidths: host -> device from a pinned 1 GiB buffer, device -> host
    into it, and device -> device of a 4 GiB buffer counting bytes read plus
    bytes written (2 x 4 GiB per copy).  Median of several copies, event-timed.
  * the machine: GPU name, driver, torch and CUDA versions, SM count, L2 size,
    and nvidia-smi's clock, power and temperature readings at a few points.

Inputs are random integers stored as float32 (never zeros), so the results of
the add chains are exact and are checked after timing: every kernel counted
must have run.  Units: 1 GB = 1e9 bytes, 1 TB = 1e12 bytes, us = microseconds.

Run (needs a CUDA GPU and PyTorch; takes well under a minute):

    python3 bench/device/measure_launch.py --out results.json

It reads the card's settings but never changes them.

Reading the results (seen on an H100, 2026-11-22, docs/measurements.md): for
1 KiB tensors the first graph a process captures replayed at about 1.07 us a
kernel and every later graph, of any length or op mix, at about 1.25 us.  Here
`graph_add` is the first graph captured at each size and `graph_add_small`
comes after it, so at 1 KiB `graph_marginal_us_per_kernel` and
`graph_fixed_us_per_replay` mix those two states and do not give a fixed cost
per replay; compare graphs captured in the same state.  Eager figures are
bound by the host CPU (PyTorch dispatch and launch) and vary between runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
import time

import torch

SMI_FIELDS = [
    "name", "driver_version", "memory.total", "clocks.sm", "clocks.mem",
    "clocks.max.sm", "clocks.max.mem", "power.draw", "power.limit",
    "temperature.gpu", "utilization.gpu", "pstate",
]

SIZES = {"1KiB": 1 << 10, "4MiB": 4 << 20, "64MiB": 64 << 20}


def smi(label: str) -> dict:
    """One nvidia-smi reading of device 0 (read-only query)."""
    out = {"at": label}
    try:
        text = subprocess.run(
            ["nvidia-smi", "-i", "0", f"--query-gpu={','.join(SMI_FIELDS)}",
             "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True).stdout.strip()
        for key, val in zip(SMI_FIELDS, [v.strip() for v in text.split(",")]):
            out[key] = val
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        out["error"] = repr(exc)
    return out


def med(xs):
    return statistics.median(xs)


def rand_f32(numel: int, dev) -> torch.Tensor:
    # Random integers 0..999 as float32: not zeros, and add chains stay exact.
    return torch.randint(0, 1000, (numel,), device=dev, dtype=torch.int32).to(torch.float32)


def add_chain(a, b, n):
    for _ in range(n // 2):
        torch.add(a, 1, out=b)
        torch.add(b, 1, out=a)


def add_mul_chain(a, b, n):
    # x -> (x + 1) * 0.5 converges to exactly 1.0 from any start, so values stay bounded.
    for _ in range(n // 2):
        torch.add(a, 1, out=b)
        torch.mul(b, 0.5, out=a)


def time_eager(numel, n, reps, dev):
    a = rand_f32(numel, dev)
    b = torch.empty_like(a)
    a0 = a.clone()
    ev_ms, wall_s, enq_s = [], [], []
    add_chain(a, b, n)  # warm-up
    torch.cuda.synchronize()
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        s.record()
        add_chain(a, b, n)
        e.record()
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        t2 = time.perf_counter()
        ev_ms.append(s.elapsed_time(e))
        wall_s.append(t2 - t0)
        enq_s.append(t1 - t0)
    expect = a0 + n * (reps + 1)
    ok = bool(torch.equal(a, expect)) and bool(torch.equal(b, expect - 1))
    return {
        "kernels": n, "reps": reps, "check_passed": ok,
        "event_ms": ev_ms, "wall_s": wall_s, "enqueue_s": enq_s,
        "per_kernel_us_event": med(ev_ms) * 1e3 / n,
        "per_kernel_us_wall": med(wall_s) * 1e6 / n,
        "per_kernel_us_enqueue": med(enq_s) * 1e6 / n,
    }


def time_graph(numel, n, replays, warmup, dev, chain):
    a = rand_f32(numel, dev)
    b = torch.empty_like(a)
    # Warm up the ops on a side stream before capture (as torch.cuda.graphs advises).
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        chain(a, b, 4)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    a.copy_(rand_f32(numel, dev))
    a0 = a.clone()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        chain(a, b, n)
    torch.cuda.synchronize()
    # Capture does not run the kernels; a still holds a0.
    for _ in range(warmup):
        g.replay()
    torch.cuda.synchronize()
    evs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
           for _ in range(replays)]
    t0 = time.perf_counter()
    for s, e in evs:
        s.record()
        g.replay()
        e.record()
    torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    ms = [s.elapsed_time(e) for s, e in evs]
    # Host-synchronized replays: wall time of one replay including its launch and the sync.
    sync_wall = []
    for _ in range(5):
        torch.cuda.synchronize()
        t = time.perf_counter()
        g.replay()
        torch.cuda.synchronize()
        sync_wall.append(time.perf_counter() - t)
    total = warmup + replays + 5
    if chain is add_chain:
        expect = a0 + n * total
        ok = bool(torch.equal(a, expect)) and bool(torch.equal(b, expect - 1))
    else:
        ok = bool(torch.all(a == 1.0)) and bool(torch.all(b == 2.0))
    del g
    return {
        "kernels": n, "replays": replays, "warmup_replays": warmup, "check_passed": ok,
        "replay_ms": ms,
        "per_kernel_us_event": med(ms) * 1e3 / n,
        "per_kernel_us_event_min": min(ms) * 1e3 / n,
        "per_kernel_us_event_max": max(ms) * 1e3 / n,
        "per_kernel_us_wall_back_to_back": wall * 1e6 / (replays * n),
        "replay_ms_host_synchronized": [x * 1e3 for x in sync_wall],
    }


def copy_bw(dev):
    res = {}
    # Host <-> device through a pinned 1 GiB buffer.
    nbytes = 1 << 30
    h = torch.empty(nbytes // 8, dtype=torch.int64, pin_memory=True)
    h.random_()
    d = torch.empty(nbytes // 8, dtype=torch.int64, device=dev)
    for name, fn in (("h2d_pinned", lambda: d.copy_(h, non_blocking=True)),
                     ("d2h_pinned", lambda: h.copy_(d, non_blocking=True))):
        for _ in range(2):
            fn()
        torch.cuda.synchronize()
        ms = []
        for _ in range(10):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            torch.cuda.synchronize()
            ms.append(s.elapsed_time(e))
        res[name] = {"bytes": nbytes, "copies": 10, "ms": ms,
                     "GB_per_s": nbytes / (med(ms) * 1e-3) / 1e9}
    ok = bool(torch.equal(h[:1 << 20].to(dev), d[:1 << 20]))
    res["h2d_d2h_check_passed"] = ok
    del h, d
    torch.cuda.empty_cache()
    # Device -> device, 4 GiB buffer: 4 GiB read + 4 GiB written per copy.
    nbytes = 4 << 30
    src = torch.randint(-2**31, 2**31 - 1, (nbytes // 4,), device=dev, dtype=torch.int32)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    torch.cuda.synchronize()
    ms = []
    for _ in range(20):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        dst.copy_(src)
        e.record()
        torch.cuda.synchronize()
        ms.append(s.elapsed_time(e))
    res["d2d"] = {"buffer_bytes": nbytes, "bytes_read_plus_written": 2 * nbytes,
                  "copies": 20, "ms": ms,
                  "TB_per_s_read_plus_written": 2 * nbytes / (med(ms) * 1e-3) / 1e12,
                  "check_passed": bool(torch.equal(dst[-4096:], src[-4096:]))}
    del src, dst
    torch.cuda.empty_cache()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="JSON file for all numbers")
    ap.add_argument("--kernels", type=int, default=2000, help="kernels per run (even)")
    ap.add_argument("--reps", type=int, default=5, help="eager repetitions (median)")
    ap.add_argument("--replays", type=int, default=20, help="graph replays (median)")
    ap.add_argument("--warmup", type=int, default=3, help="graph warm-up replays")
    ap.add_argument("--sizes", default="1KiB,4MiB,64MiB", help=f"from {list(SIZES)}")
    args = ap.parse_args()
    n = args.kernels - args.kernels % 2
    n_small = (n // 4) - (n // 4) % 2

    dev = torch.device("cuda", 0)
    torch.cuda.set_device(dev)
    props = torch.cuda.get_device_properties(dev)
    result = {
        "what": "per-kernel time of back-to-back elementwise kernels (eager and CUDA-graph replay) and copy bandwidths",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([sys.executable.split("/")[-1]] + sys.argv),
        "machine": {
            "gpu": torch.cuda.get_device_name(dev),
            "sm_count": props.multi_processor_count,
            "l2_bytes": getattr(props, "L2_cache_size", None),
            "memory_bytes": props.total_memory,
            "torch": torch.__version__,
            "cuda_runtime": torch.version.cuda,
            "python": platform.python_version(),
            "os_kernel": platform.release(),
        },
        "units": {"time": "us per kernel unless named otherwise", "GB": 1e9, "TB": 1e12},
        "smi": [smi("start")],
        "sizes": {},
    }
    result["machine"]["driver"] = result["smi"][0].get("driver_version")

    for label in args.sizes.split(","):
        nbytes = SIZES[label]
        numel = nbytes // 4
        entry = {"bytes": nbytes, "dtype": "float32", "numel": numel,
                 "bytes_moved_per_kernel": 2 * nbytes}
        entry["eager_add"] = time_eager(numel, n, args.reps, dev)
        entry["graph_add"] = time_graph(numel, n, args.replays, args.warmup, dev, add_chain)
        entry["graph_add_small"] = time_graph(numel, n_small, args.replays, args.warmup, dev, add_chain)
        entry["graph_add_mul"] = time_graph(numel, n, args.replays, args.warmup, dev, add_mul_chain)
        big, small = entry["graph_add"], entry["graph_add_small"]
        entry["graph_marginal_us_per_kernel"] = (
            (med(big["replay_ms"]) - med(small["replay_ms"])) * 1e3 / (n - n_small))
        entry["graph_fixed_us_per_replay"] = (
            med(big["replay_ms"]) * 1e3 - entry["graph_marginal_us_per_kernel"] * n)
        result["sizes"][label] = entry
        result["smi"].append(smi(f"after {label}"))
        print(f"{label}: done", flush=True)

    result["copies"] = copy_bw(dev)
    result["smi"].append(smi("end"))
    checks = [e[k]["check_passed"] for e in result["sizes"].values()
              for k in ("eager_add", "graph_add", "graph_add_small", "graph_add_mul")]
    checks += [result["copies"]["h2d_d2h_check_passed"], result["copies"]["d2d"]["check_passed"]]
    result["all_checks_passed"] = all(checks)

    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)

    m = result["machine"]
    print()
    print(f"{m['gpu']}  driver {m['driver']}  torch {m['torch']} (CUDA {m['cuda_runtime']})  "
          f"{m['sm_count']} SMs  L2 {m['l2_bytes']}")
    for s in result["smi"]:
        print(f"  nvidia-smi {s['at']}: sm {s.get('clocks.sm')}, mem {s.get('clocks.mem')}, "
              f"max sm {s.get('clocks.max.sm')}, power {s.get('power.draw')}, "
              f"temp {s.get('temperature.gpu')}, util {s.get('utilization.gpu')}, {s.get('pstate')}")
    print()
    print(f"per-kernel time, us ({n} back-to-back kernels; median)")
    print(f"{'size':>6} | {'graph add':>9} {'graph add/mul':>13} {'graph slope':>11} "
          f"{'graph fixed/replay':>18} | {'eager event':>11} {'eager wall':>10} {'eager enqueue':>13}")
    for label, e in result["sizes"].items():
        print(f"{label:>6} | {e['graph_add']['per_kernel_us_event']:9.3f} "
              f"{e['graph_add_mul']['per_kernel_us_event']:13.3f} "
              f"{e['graph_marginal_us_per_kernel']:11.3f} {e['graph_fixed_us_per_replay']:18.1f} | "
              f"{e['eager_add']['per_kernel_us_event']:11.3f} {e['eager_add']['per_kernel_us_wall']:10.3f} "
              f"{e['eager_add']['per_kernel_us_enqueue']:13.3f}")
    c = result["copies"]
    print()
    print(f"host->device pinned 1 GiB: {c['h2d_pinned']['GB_per_s']:.1f} GB/s   "
          f"device->host pinned: {c['d2h_pinned']['GB_per_s']:.1f} GB/s   "
          f"device->device 4 GiB: {c['d2d']['TB_per_s_read_plus_written']:.3f} TB/s read+written")
    print(f"all checks passed: {result['all_checks_passed']}")
    print(f"wrote {args.out}")
    return 0 if result["all_checks_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
