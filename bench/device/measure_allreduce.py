"""All-reduce time over NVLink through NCCL, for the node-level cost model.

What it measures: torch.distributed.all_reduce (sum, bf16) between the GPUs
of one host, one process per GPU, for message sizes from 8 KiB (one Llama-2-7B
decode token's hidden state in bf16) to 256 MiB. Each size: 20 warm-up calls,
then ITERS calls back to back timed with CUDA events on rank 0 (the barrier
before the first timed call lines the ranks up), median of 5 repetitions;
small sizes are also captured into a CUDA graph and replayed, which removes
the host's launch cost as a tierflow GPU plan (one graph per step) would.
Reported: microseconds per all-reduce and the bus bandwidth NCCL's tests
print, 2 (R - 1) / R * bytes / time. The sum is checked after timing.

NVLink multicast (NVLS) stays off: NCCL_NVLS_ENABLE=0 is set here as well.

Run (needs 2 or more CUDA GPUs and PyTorch; the timing takes under a minute).
Pipe its output through a filter that does not buffer, or read the JSON file:

    python3 bench/device/measure_allreduce.py --out allreduce.json
"""

import argparse
import json
import os
import statistics

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

SIZES = [8 << 10, 64 << 10, 1 << 20, 16 << 20, 256 << 20]
GRAPH_MAX = 1 << 20


def timed(fn, iters: int) -> float:
    reps = []
    for _ in range(5):
        dist.barrier()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        torch.cuda.synchronize()
        reps.append(start.elapsed_time(end) * 1e3 / iters)
    return statistics.median(reps)


def worker(rank: int, world: int, out: str) -> None:
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29511")
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=world, device_id=torch.device("cuda", rank))
    rows = []
    for size in SIZES:
        n = size // 2
        x = torch.full((n,), float(rank + 1), dtype=torch.bfloat16, device="cuda")
        iters = 200 if size <= GRAPH_MAX else 20
        for _ in range(20):
            dist.all_reduce(x)
        eager = timed(lambda: dist.all_reduce(x), iters)
        graph_us = None
        if size <= GRAPH_MAX:
            g = torch.cuda.CUDAGraph()
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                dist.all_reduce(x)
                with torch.cuda.graph(g, stream=s):
                    for _ in range(50):
                        dist.all_reduce(x)
            torch.cuda.current_stream().wait_stream(s)
            graph_us = timed(g.replay, 4) / 50
        x.fill_(float(rank + 1))
        dist.all_reduce(x)
        expected = world * (world + 1) / 2
        ok = bool(torch.all(x.float() == expected).item())
        bus = 2 * (world - 1) / world * size / ((graph_us or eager) * 1e-6) / 1e9
        rows.append({"bytes": size, "eager_us": eager, "graph_us": graph_us, "bus_GBps": bus, "sum_ok": ok})
        if rank == 0:
            print(f"{size:>10} B  eager {eager:9.2f} us  graph {graph_us if graph_us is None else round(graph_us, 2)} us  bus {bus:8.1f} GB/s  ok={ok}", flush=True)
    if rank == 0:
        info = {
            "gpus": world, "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
            "nccl": ".".join(map(str, torch.cuda.nccl.version())), "NCCL_NVLS_ENABLE": os.environ.get("NCCL_NVLS_ENABLE"),
            "results": rows,
        }
        with open(out, "w") as f:
            json.dump(info, f, indent=1)
    # The first run wrote its results and then hung in destroy_process_group
    # until the 300 s limit: leave without tearing NCCL down.
    torch.cuda.synchronize()
    dist.barrier()
    os._exit(0)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="allreduce.json")
    args = p.parse_args()
    os.environ["NCCL_NVLS_ENABLE"] = "0"
    world = torch.cuda.device_count()
    if world < 2:
        raise SystemExit("needs 2 or more GPUs")
    mp.spawn(worker, args=(world, args.out), nprocs=world)
