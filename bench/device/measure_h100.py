"""Decoder grid, per-kernel profiles and cost-model microbenchmarks of one CUDA GPU; calibration targets.

What it measures, on cuda device 0 (bf16 throughout, random weights and data, never zeros):

  * the grid (--grid-out): Llama-2-7B (32 heads, 32 KV heads) and a grouped-query model with
    Llama-3.1-8B shapes (32 heads, 8 KV heads, vocabulary 128256), built from transformers'
    LlamaConfig with random weights, `config._attn_implementation = "sdpa"`.
      - decode: one token at batch {1, 4, 16, 64} x context {128, 1024, 4096}, the model's
        forward captured into a CUDA graph and replayed, with a static KV cache of context + 1
        slots (StaticCache; the context's slots hold random keys and values, the new token goes
        in the last slot). Each replay is timed with its own CUDA events; median of REPLAYS
        replays after warm-up, with min, max and quartiles. The replayed logits are checked
        against an eager forward of the same step. A point whose weights, KV cache and
        workspace would not fit in the free memory is skipped and recorded with the bytes it
        would need.
      - prefill: batch {1, 4} x prompt {512, 2048}, one eager forward (`model(input_ids)`, no
        cache, logits for every token, as the exported graph computes them), timed with CUDA
        events and with the host clock around a synchronized call; median of PREFILL_REPS.
      - profiles: torch.profiler over a few decode replays and one prefill call per model;
        kernel times aggregated by kernel name and by class (gemm, attention, elementwise, norm,
        copy, other; see classify()) per step.
  * microbenchmarks (--micro-out, --calibrate): each op captured n times into a CUDA graph,
    cycling through enough input sets that every call reads cold data from HBM (at least
    ROTATE_BYTES per cycle, the L2 being 50 MB), replay timed with CUDA events; per call =
    median replay / n, so the figures include the per-kernel cost of graph replay (about
    1.25 us on an H100) and no host launch cost:
      - achieved bandwidth against bytes moved: elementwise add, mul, silu, silu*mul (as
        Hugging Face's MLP runs it: two kernels), copy, a reduction over the last axis
        (mean over 4096 columns) and RMSNorm as LlamaRMSNorm runs it, add also L2-warm;
      - GEMV: bf16 weight [N, K] times one vector through F.linear, at the Llama shapes;
      - GEMM: F.linear at the Llama shapes for M = 1 .. 4096 rows (tile and wave quantisation);
      - SDPA attention: decode (query length 1, MHA and GQA) against batch x context, and
        causal prefill against batch x prompt;
      - launch: tiny kernels eager and replayed from a graph, graph launch and synchronize;
      - host -> device (pinned) and device -> device copy bandwidth, and one 8192^3 GEMM.
  * calibration (--target-out): a tierflow target file (targets/target.schema.json) whose
    `efficiency` curves come from the microbenchmarks only, never from the grid: achieved
    bandwidth (fraction of the measured copy bandwidth, which becomes hbm.bandwidth) against
    bytes moved per kernel class, GEMM efficiency (fraction of peak FLOP/s) against M, attention
    against KV bytes and FLOPs, and the launch costs. --base takes the figures a program cannot
    measure (SRAM, DDR size, datasheet peaks) from an existing target; without it they come
    from the device's properties. With --calibrate the target also gets `efficiency.framework`
    and the repeat-kv curve: what transformers adds around the kernels, measured by
    measure_framework.py in the same process (--framework-out keeps its JSON; --no-framework
    skips it). --from-micro [--from-framework] derives the target from saved JSON without a GPU.
  * the process runs on one CPU (--cpu; 'none' leaves it to the OS): eager prefill is bound by
    the host, whose speed a thread moved between CPUs changes from call to call.

Run (needs a CUDA GPU, PyTorch and transformers; the full run takes about 4 minutes on an H100):

    python3 bench/device/measure_h100.py --calibrate --grid-out h100-grid.json --micro-out h100-micro.json \\
        --framework-out h100-framework.json --target-out h100.json --base targets/presets/h100.json
    python3 bench/device/measure_h100.py --calibrate --target-out my-gpu.json      # about 2 minutes
    python3 bench/device/measure_h100.py --from-micro h100-micro.json --from-framework h100-framework.json \\
        --target-out h100.json --base targets/presets/h100.json

It reads the card's settings but never changes them. Units: 1 GB = 1e9 bytes, 1 TB = 1e12 bytes,
times in ms unless named otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import inspect
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

torch = None  # imported by gpu_setup(): --from-micro runs without PyTorch
F = None

SMI_FIELDS = [
    "name", "driver_version", "memory.total", "clocks.sm", "clocks.mem",
    "clocks.max.sm", "clocks.max.mem", "power.draw", "power.limit",
    "temperature.gpu", "utilization.gpu", "pstate",
]

MODELS = {
    # Touvron et al., "Llama 2" (2023) / the released config.json; multi-head attention.
    "llama-2-7b": dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=32),
    # Llama 3.1 8B's shapes: grouped-query attention, 8 KV heads, 128256-token vocabulary.
    "llama-3.1-8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8),
}
DECODE_BATCHES = [1, 4, 16, 64]
DECODE_CONTEXTS = [128, 1024, 4096]
PREFILL_BATCHES = [1, 4]
PREFILL_PROMPTS = [512, 2048]
PROFILE_DECODE = [(1, 1024), (16, 4096)]
PROFILE_PREFILL = [(1, 2048)]
REPLAYS = 30
PREFILL_REPS = 7
ROTATE_BYTES = 256 << 20
KV_MARGIN_BYTES = 2 << 30
CHECK_KV_BYTES = 2 << 30
BF16 = 2


# ---------------------------------------------------------------- utilities

def smi(label: str) -> dict:
    """One nvidia-smi reading of device 0 (read-only query)."""
    out = {"at": label}
    try:
        text = subprocess.run(
            ["nvidia-smi", "-i", "0", f"--query-gpu={','.join(SMI_FIELDS)}", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True).stdout.strip()
        for key, val in zip(SMI_FIELDS, [v.strip() for v in text.split(",")]):
            out[key] = val
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        out["error"] = repr(exc)
    return out


def summary(ms: list[float]) -> dict:
    """Median and spread of a list of times (ms)."""
    s = sorted(ms)
    q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0], s[0], s[0]]
    return {"median": statistics.median(s), "min": s[0], "max": s[-1], "p25": q[0], "p75": q[2], "n": len(s)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pin_cpu(choice: str) -> None:
    """Run this process on one CPU: 'auto' the lowest it may use, a number that one, 'none' wherever the
    OS schedules it. An eager forward is bound by the host, and a thread the scheduler moves between
    CPUs issues kernels at speeds up to 2x apart from one call to the next."""
    if choice == "none":
        return
    cpu = min(os.sched_getaffinity(0)) if choice == "auto" else int(choice)
    os.sched_setaffinity(0, {cpu})


def gpu_setup():
    global torch, F
    import torch as _torch
    import torch.nn.functional as _F
    torch, F = _torch, _F
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: run this on a machine with an NVIDIA GPU")
    torch.cuda.set_device(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    return torch.device("cuda", 0)


def machine_info(dev) -> dict:
    props = torch.cuda.get_device_properties(dev)
    info = {
        "gpu": torch.cuda.get_device_name(dev),
        "sm_count": props.multi_processor_count,
        "l2_bytes": getattr(props, "L2_cache_size", None),
        "memory_bytes": props.total_memory,
        "shared_memory_per_sm_bytes": getattr(props, "shared_memory_per_multiprocessor", None),
        "compute_capability": f"{props.major}.{props.minor}",
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "python": platform.python_version(),
        "os_kernel": platform.release(),
        "host_memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "host_cpus": os.cpu_count(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
    }
    try:
        import transformers
        info["transformers"] = transformers.__version__
    except Exception as exc:  # noqa: BLE001
        info["transformers"] = f"not importable: {exc!r}"
    s = smi("start")
    info["driver"] = s.get("driver_version")
    info["clocks_at_start"] = {k: s.get(k) for k in ("clocks.sm", "clocks.mem", "clocks.max.sm", "clocks.max.mem", "pstate")}
    return info


def header(what: str, dev) -> dict:
    return {
        "what": what,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "machine": machine_info(dev),
        "units": {"time": "ms unless named otherwise", "GB": 1e9, "TB": 1e12},
        "smi": [smi("start")],
    }


def events(n: int):
    return [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]


def rand(shape, dev, dtype=None, scale=1.0):
    """Random normal data (never zeros) in the dtype, bf16 by default."""
    return (torch.randn(shape, device=dev, dtype=torch.float32) * scale).to(dtype or torch.bfloat16)


# ---------------------------------------------------------------- kernel classes

def classify(name: str) -> str:
    """A kernel's class from its name: what the cost model prices it as."""
    n = name.lower()
    if any(k in n for k in ("flash", "fmha", "attention", "attn", "sdpa", "softmax")):
        return "attention"
    if any(k in n for k in ("gemm", "gemv", "nvjet", "cutlass", "xmma", "cublas", "splitk", "matmul", "dot_kernel")):
        return "gemm"
    if any(k in n for k in ("reduce", "norm", "welford", "mean")):
        return "norm"
    if any(k in n for k in ("copy", "memcpy", "memset", "cat", "index", "gather", "scatter", "fill", "embedding", "transpose")):
        return "copy"
    if any(k in n for k in ("elementwise", "vectorized", "unrolled", "pointwise", "silu", "pow", "rsqrt", "neg", "mul", "add")):
        return "elementwise"
    return "other"


def kernel_profile(step_fn, steps: int) -> dict:
    """Run step_fn `steps` times under torch.profiler; kernel times per step by name and class."""
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step_fn()
        torch.cuda.synchronize()
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        prof.export_chrome_trace(path)
        with open(path) as f:
            trace = json.load(f)
    finally:
        os.unlink(path)
    by_name: dict[str, dict] = {}
    first, last = math.inf, -math.inf
    for ev in trace.get("traceEvents", []):
        cat = str(ev.get("cat", "")).lower()
        if ev.get("ph") != "X" or cat not in ("kernel", "gpu_memcpy", "gpu_memset"):
            continue
        name = str(ev.get("name", "?"))
        dur = float(ev.get("dur", 0.0))
        ts = float(ev.get("ts", 0.0))
        first, last = min(first, ts), max(last, ts + dur)
        e = by_name.setdefault(name, {"name": name, "class": classify(name) if cat == "kernel" else "copy", "calls": 0, "us": 0.0})
        e["calls"] += 1
        e["us"] += dur
    kernels = sorted(by_name.values(), key=lambda e: -e["us"])
    by_class: dict[str, dict] = {}
    for e in kernels:
        c = by_class.setdefault(e["class"], {"ms_per_step": 0.0, "kernels_per_step": 0.0})
        c["ms_per_step"] += e["us"] / 1e3 / steps
        c["kernels_per_step"] += e["calls"] / steps
    total = sum(c["ms_per_step"] for c in by_class.values())
    for c in by_class.values():
        c["share"] = c["ms_per_step"] / total if total else 0.0
    top = [{"name": e["name"][:200], "class": e["class"], "calls_per_step": e["calls"] / steps,
            "ms_per_step": e["us"] / 1e3 / steps, "us_per_call": e["us"] / e["calls"]} for e in kernels[:60]]
    rest = kernels[60:]
    return {
        "steps": steps,
        "kernels_per_step": sum(e["calls"] for e in kernels) / steps,
        "kernel_ms_per_step": total,
        "gpu_span_ms_per_step": (last - first) / 1e3 / steps if kernels else 0.0,
        "by_class": by_class,
        "by_kernel": top,
        "other_kernels": {"names": len(rest), "ms_per_step": sum(e["us"] for e in rest) / 1e3 / steps},
    }


# ---------------------------------------------------------------- the grid

def llama_bf16(dev, **config):
    """A LlamaForCausalLM with seeded random bf16 weights built on `dev`, SDPA attention, in eval mode; and its config."""
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(**config, rms_norm_eps=1e-5, tie_word_embeddings=False, attention_bias=False, mlp_bias=False)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(dev):
            model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(prev)
    return model.eval(), cfg


def build_model(name: str, dev, layers: int | None):
    shape = dict(MODELS[name])
    if layers is not None:
        shape["num_hidden_layers"] = layers
    model, cfg = llama_bf16(dev, **shape, max_position_embeddings=8192)
    for p in model.parameters():
        if p.dtype != torch.bfloat16:
            p.data = p.data.to(torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    kv_heads, head_dim = cfg.num_key_value_heads, cfg.hidden_size // cfg.num_attention_heads
    info = {
        "config": {**shape, "head_dim": head_dim, "max_position_embeddings": 8192,
                   "note": "rotary embedding with the config's default theta and no scaling: timing does not depend on them"},
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "parameters": params,
        "weight_bytes": params * BF16,
        "kv_bytes_per_token": 2 * cfg.num_hidden_layers * kv_heads * head_dim * BF16,
        "param_dtypes": sorted({str(p.dtype) for p in model.parameters()}),
    }
    try:
        info["forward_parameters"] = list(inspect.signature(model.model.forward).parameters)
    except (TypeError, ValueError):
        pass
    return model, cfg, info


def static_cache(cfg, batch: int, length: int, dev):
    from transformers import StaticCache
    params = inspect.signature(StaticCache.__init__).parameters
    kw = {"config": cfg, "max_cache_len": length}
    if "max_batch_size" in params:
        kw["max_batch_size"] = batch
    elif "batch_size" in params:
        kw["batch_size"] = batch
    if "device" in params:
        kw["device"] = dev
    if "dtype" in params:
        kw["dtype"] = torch.bfloat16
    return StaticCache(**kw)


def cache_tensors(obj, length: int, seen=None, depth=0) -> list:
    """Every 4-d tensor of `length` slots reachable from the cache object (its key and value buffers)."""
    seen = seen if seen is not None else set()
    found = []
    if id(obj) in seen or depth > 6:
        return found
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        if obj.dim() == 4 and obj.shape[2] == length:
            found.append(obj)
        return found
    if isinstance(obj, (list, tuple)):
        items = obj
    elif isinstance(obj, dict):
        items = list(obj.values())
    elif hasattr(obj, "__dict__"):
        items = list(vars(obj).values())
    else:
        return found
    for x in items:
        found += cache_tensors(x, length, seen, depth + 1)
    return found


def rel_err(a, b) -> float:
    a, b = a.float(), b.float()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def cache_state(obj, seen=None, depth=0) -> list:
    """Every tensor reachable from the cache object: its buffers and any counters it keeps."""
    seen = seen if seen is not None else set()
    if id(obj) in seen or depth > 6:
        return []
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return [obj]
    items = obj if isinstance(obj, (list, tuple)) else list(obj.values()) if isinstance(obj, dict) else \
        list(vars(obj).values()) if hasattr(obj, "__dict__") else []
    return [t for x in items for t in cache_state(x, seen, depth + 1)]


def replay_check(cache, step, replay, graph_out, length: int) -> dict:
    """From one saved cache state, an eager step and a graph replay give the same logits and the same cache."""
    state = cache_state(cache)
    saved = [t.clone() for t in state]
    ref = step().clone()
    after_eager = [t.clone() for t in state]
    for t, v in zip(state, saved):
        t.copy_(v)
    replay()
    torch.cuda.synchronize()
    got = graph_out().clone()
    cache_err = max((rel_err(t, v) for t, v in zip(state, after_eager) if t.numel() and v.float().norm() > 0), default=0.0)
    bufs = [t for t in state if t.dim() == 4 and t.shape[2] == length]
    written = []
    if bufs:
        diff = (bufs[0] != saved[[id(t) for t in state].index(id(bufs[0]))]).flatten(3).any(-1).any(1).any(0)
        written = diff.nonzero().flatten().tolist()[:8]
    small = {f"{tuple(t.shape)}:{t.dtype}": t.flatten()[:4].tolist() for t in state if 0 < t.numel() <= 4}
    err = rel_err(got, ref)
    del saved, after_eager
    return {"what": "from one saved cache state: an eager step, then the state restored and the graph replayed",
            "logits_rel_err_vs_eager": err, "cache_rel_err_vs_eager": cache_err, "cache_tensors": len(state),
            "slots_written_by_one_step": written, "small_cache_tensors_after": small,
            "passed": err < 2e-2 and cache_err < 2e-2}


def measure_decode(model, cfg, info, batch: int, ctx: int, dev, replays: int, profile_it: bool) -> dict:
    point = {"phase": "decode", "batch": batch, "context": ctx, "kv_slots": ctx + 1}
    kv_bytes = info["kv_bytes_per_token"] * batch * (ctx + 1)
    logits_bytes = batch * cfg.vocab_size * 4
    need = kv_bytes + logits_bytes + KV_MARGIN_BYTES
    free, _ = torch.cuda.mem_get_info()
    point.update({"kv_cache_bytes": kv_bytes, "bytes_needed_beyond_weights": need,
                  "bytes_needed_total": need + info["weight_bytes"], "bytes_free_before": free})
    if need > 0.97 * free:
        point.update({"status": "skipped", "reason": f"needs {need / 1e9:.1f} GB beyond the weights (KV cache {kv_bytes / 1e9:.1f} GB), {free / 1e9:.1f} GB free"})
        return point
    g = cache = out = None
    try:
        with torch.no_grad():
            cache = static_cache(cfg, batch, ctx + 1, dev)
            ids = torch.randint(0, cfg.vocab_size, (batch, 1), device=dev)
            pos = torch.full((batch, 1), ctx, device=dev, dtype=torch.long)
            cpos = torch.tensor([ctx], device=dev, dtype=torch.long)
            kwargs = dict(input_ids=ids, position_ids=pos, cache_position=cpos, past_key_values=cache, use_cache=True)

            def step():
                return model(**kwargs).logits

            step()  # allocates the static cache's buffers (lazily, in transformers 5)
            bufs = cache_tensors(cache, ctx + 1)
            for t in bufs:
                t.normal_()
            point["cache_buffers_filled"] = len(bufs)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):
                    step()
            torch.cuda.current_stream().wait_stream(side)
            torch.cuda.synchronize()
            try:
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    out = step()
                run = g.replay
                point["mode"] = "cuda-graph replay"
            except Exception as exc:  # noqa: BLE001 - recorded; timed eagerly instead
                g = None
                torch.cuda.synchronize()
                point["mode"] = "eager (graph capture failed)"
                point["graph_error"] = repr(exc)[:400]
                holder = {}

                def run():
                    holder["out"] = step()
            if g is not None and kv_bytes <= CHECK_KV_BYTES:
                point["check"] = replay_check(cache, step, run, lambda: out, ctx + 1)
            for _ in range(3):
                run()
            torch.cuda.synchronize()
            evs = events(replays)
            t0 = time.perf_counter()
            for s, e in evs:
                s.record()
                run()
                e.record()
            torch.cuda.synchronize()
            wall = (time.perf_counter() - t0) * 1e3 / replays
            ms = [s.elapsed_time(e) for s, e in evs]
            got = out if g is not None else holder["out"]
            finite = bool(torch.isfinite(got).all())
            check = point.get("check", {"what": "logits finite (the replay-against-eager check runs where the KV cache is at most "
                                                f"{CHECK_KV_BYTES >> 30} GiB)"})
            check["finite"] = finite
            check["passed"] = finite and check.get("passed", True)
            point.update({"status": "measured", "ms": summary(ms), "ms_per_step_host_back_to_back": wall, "check": check})
            if profile_it:
                point["profile"] = kernel_profile(run, 5)
                point["profile"]["source"] = point["mode"]
                if point["profile"]["kernels_per_step"] == 0 and g is not None:
                    point["profile"] = kernel_profile(step, 3)
                    point["profile"]["source"] = "eager forward (the profiler saw no kernels in graph replays)"
    except torch.cuda.OutOfMemoryError as exc:
        point.update({"status": "skipped", "reason": f"out of memory: {str(exc)[:300]}"})
    except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
        point.update({"status": "failed", "error": repr(exc)[:600]})
    finally:
        del g, cache, out
        gc.collect()
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
    return point


def measure_prefill(model, cfg, batch: int, prompt: int, dev, reps: int, profile_it: bool) -> dict:
    point = {"phase": "prefill", "batch": batch, "prompt": prompt, "mode": "eager forward, no cache, logits for every token"}
    try:
        with torch.no_grad():
            ids = torch.randint(0, cfg.vocab_size, (batch, prompt), device=dev)

            def step():
                return model(input_ids=ids, use_cache=False).logits
            for _ in range(2):
                out = step()
            torch.cuda.synchronize()
            ms, wall = [], []
            for _ in range(reps):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                s.record()
                out = step()
                e.record()
                torch.cuda.synchronize()
                wall.append((time.perf_counter() - t0) * 1e3)
                ms.append(s.elapsed_time(e))
            point.update({"status": "measured", "ms": summary(ms), "ms_host_synchronized": summary(wall),
                          "check": {"finite": bool(torch.isfinite(out).all()), "passed": bool(torch.isfinite(out).all())}})
            del out
            if profile_it:
                point["profile"] = kernel_profile(step, 2)
                point["profile"]["source"] = "eager forward"
    except torch.cuda.OutOfMemoryError as exc:
        point.update({"status": "skipped", "reason": f"out of memory: {str(exc)[:300]}"})
    except Exception as exc:  # noqa: BLE001
        point.update({"status": "failed", "error": repr(exc)[:600]})
    finally:
        gc.collect()
        torch.cuda.empty_cache()
    return point


def run_grid(dev, quick: bool, out_path: str | None = None) -> dict:
    result = header("decode (CUDA graph, static KV cache) and prefill (eager) times of Llama-shaped models from Hugging Face transformers, with per-kernel profiles", dev)
    layers = 2 if quick else None
    batches, contexts = ([1, 4], [128, 1024]) if quick else (DECODE_BATCHES, DECODE_CONTEXTS)
    pb, pp = ([1], [512]) if quick else (PREFILL_BATCHES, PREFILL_PROMPTS)
    replays = 5 if quick else REPLAYS
    reps = 2 if quick else PREFILL_REPS
    result["settings"] = {
        "dtype": "bf16", "attn_implementation": "sdpa (config._attn_implementation = 'sdpa')",
        "weights": "random (transformers' own initialisation), built on the GPU",
        "decode": ("one token per sequence; model forward captured into a torch.cuda.CUDAGraph and replayed; StaticCache of context+1 slots "
                   "holding random keys and values; position_ids = context; no attention mask (transformers then calls SDPA without one, "
                   "over all context+1 slots). transformers 5.17's StaticLayer writes the new token at its own device-side counter "
                   "(cumulative_length), not at a cache_position, so the n-th step of a point writes slot n, inside the context: the same "
                   "kernels and bytes as writing slot `context`"),
        "prefill": "model(input_ids) eager, use_cache=False, no attention mask (SDPA is_causal), logits for every token",
        "decode_replays": replays, "prefill_reps": reps, "layers": layers or "as the model",
        "timing": "CUDA events around each replay or call; ms = median with min, max and quartiles",
    }
    result["models"] = {}
    result["points"] = []
    t_start = time.perf_counter()
    for name in MODELS:
        t0 = time.perf_counter()
        model, cfg, info = build_model(name, dev, layers)
        info["build_s"] = time.perf_counter() - t0
        result["models"][name] = info
        log(f"{name}: built in {info['build_s']:.1f} s, {info['parameters'] / 1e9:.2f} B parameters, attention {info['attn_implementation']}")
        for b in batches:
            for c in contexts:
                t1 = time.perf_counter()
                p = measure_decode(model, cfg, info, b, c, dev, replays, (b, c) in PROFILE_DECODE or (quick and b == 1))
                p["model"] = name
                p["seconds_spent"] = time.perf_counter() - t1
                result["points"].append(p)
                log(f"{name} decode b{b} c{c}: {p['status']} {p.get('ms', {}).get('median', float('nan')):.3f} ms {p.get('mode', '')} {p.get('reason', p.get('error', ''))}")
        for b in pb:
            for s in pp:
                t1 = time.perf_counter()
                p = measure_prefill(model, cfg, b, s, dev, reps, (b, s) in PROFILE_PREFILL or quick)
                p["model"] = name
                p["seconds_spent"] = time.perf_counter() - t1
                result["points"].append(p)
                log(f"{name} prefill b{b} s{s}: {p['status']} {p.get('ms', {}).get('median', float('nan')):.3f} ms {p.get('reason', p.get('error', ''))}")
        result["smi"].append(smi(f"after {name}"))
        if out_path:
            write_json(out_path, result)  # what is done so far, should a later model fail
        del model
        gc.collect()
        torch.cuda.empty_cache()
    result["seconds_spent"] = time.perf_counter() - t_start
    checks = [p["check"]["passed"] for p in result["points"] if p.get("status") == "measured"]
    result["all_checks_passed"] = all(checks) and len(checks) > 0
    return result


# ---------------------------------------------------------------- microbenchmarks

def time_calls(calls, est_s: float, reps: int = 7, target_ms: float = 3.0, max_calls: int = 1000) -> dict:
    """Capture n calls (cycling through `calls`, one per input set) into a CUDA graph; time replays."""
    k = len(calls)
    n = max(k, min(max_calls, math.ceil(target_ms * 1e-3 / max(est_s, 1e-6))))
    n = k * math.ceil(n / k)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for c in calls:
            c()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for i in range(n):
            calls[i % k]()
    for _ in range(2):
        g.replay()
    torch.cuda.synchronize()
    evs = events(reps)
    for s, e in evs:
        s.record()
        g.replay()
        e.record()
    torch.cuda.synchronize()
    ms = [s.elapsed_time(e) / n for s, e in evs]
    del g
    return {"calls_per_graph": n, "input_sets": k, "us_per_call": summary([m * 1e3 for m in ms])}


def sets_for(bytes_per_set: int, cold: bool) -> int:
    return 1 if not cold else max(1, min(64, math.ceil(ROTATE_BYTES / max(bytes_per_set, 1))))


def bw_point(label: str, bytes_moved: int, t: dict, **extra) -> dict:
    us = t["us_per_call"]["median"]
    return {"op": label, "bytes_moved": bytes_moved, **extra, **t, "GB_per_s": bytes_moved / (us * 1e-6) / 1e9}


def micro_elementwise(dev, quick: bool) -> list:
    out = []
    numels = [1 << e for e in range(10, 29, 2)] if not quick else [1 << 12, 1 << 20, 1 << 24]
    for numel in numels:
        nbytes = numel * BF16
        for op in ("add", "mul", "silu", "silu_mul", "copy", "add_l2_warm"):
            cold = op != "add_l2_warm"
            if op in ("add", "mul", "add_l2_warm"):
                moved, per_set = 3 * nbytes, 3 * nbytes
            elif op == "silu":
                moved, per_set = 2 * nbytes, 2 * nbytes
            elif op == "silu_mul":
                moved, per_set = 5 * nbytes, 3 * nbytes  # silu(g): read g, write s; s * u: read s, u, write
            else:
                moved, per_set = 2 * nbytes, 2 * nbytes
            k = sets_for(per_set, cold)
            if k * per_set > 6 << 30:
                continue
            sets = [(rand(numel, dev), rand(numel, dev), torch.empty(numel, device=dev, dtype=torch.bfloat16)) for _ in range(k)]
            fns = []
            for a, b, c in sets:
                if op in ("add", "add_l2_warm"):
                    fns.append(lambda a=a, b=b, c=c: torch.add(a, b, out=c))
                elif op == "mul":
                    fns.append(lambda a=a, b=b, c=c: torch.mul(a, b, out=c))
                elif op == "silu":
                    fns.append(lambda a=a, c=c: torch.ops.aten.silu.out(a, out=c))
                elif op == "silu_mul":
                    fns.append(lambda a=a, b=b: F.silu(a) * b)
                else:
                    fns.append(lambda a=a, c=c: c.copy_(a))
            t = time_calls(fns, moved / 2.5e12 + 2e-6)
            kernels = 2 if op == "silu_mul" else 1
            out.append(bw_point(op, moved, t, numel=numel, dtype="bf16", kernels=kernels, cold=cold and k * per_set >= ROTATE_BYTES,
                                cycle_bytes=k * per_set))
            del sets, fns
        torch.cuda.empty_cache()
    # Checks: the ops compute what they should on fresh data.
    a, b = rand(4096, dev), rand(4096, dev)
    c = torch.empty_like(a)
    torch.add(a, b, out=c)
    ok = bool(torch.equal(c, a + b))
    torch.ops.aten.silu.out(a, out=c)
    ok = ok and rel_err(c, F.silu(a.float())) < 1e-2
    return out, ok


def micro_norm(dev, quick: bool) -> list:
    out = []
    hidden = 4096
    rows_list = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536] if not quick else [1, 64, 4096]

    def rmsnorm(x, w):  # LlamaRMSNorm.forward
        h = x.to(torch.float32)
        var = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(var + 1e-5)
        return w * h.to(x.dtype)
    for rows in rows_list:
        nbytes = rows * hidden * BF16
        k = sets_for(2 * nbytes, True)
        xs = [rand((rows, hidden), dev) for _ in range(k)]
        w = rand(hidden, dev)
        outs = [torch.empty(rows, device=dev, dtype=torch.bfloat16) for _ in range(k)]
        fns = [lambda x=x, o=o: torch.mean(x, dim=-1, out=o) for x, o in zip(xs, outs)]
        t = time_calls(fns, nbytes / 2.5e12 + 2e-6)
        out.append(bw_point("reduce_mean_last_axis", nbytes + rows * BF16, t, rows=rows, hidden=hidden, dtype="bf16", kernels=1, cold=True))
        fns = [lambda x=x: rmsnorm(x, w) for x in xs]
        t = time_calls(fns, 6 * nbytes / 2.5e12 + 8e-6)
        out.append(bw_point("rmsnorm_hf", 2 * nbytes, t, rows=rows, hidden=hidden, dtype="bf16", cold=True,
                            kernels="as LlamaRMSNorm runs it (several kernels); bytes_moved = read x + write y once"))
        del xs, outs, fns
        torch.cuda.empty_cache()
    x = rand((8, hidden), dev)
    ok = rel_err(torch.mean(x, dim=-1), x.float().mean(-1)) < 1e-2
    return out, ok


GEMV_SHAPES = [(4096, 4096), (4096, 1024), (4096, 11008), (11008, 4096), (4096, 14336), (14336, 4096), (4096, 32000), (4096, 128256)]
GEMM_SHAPES = [(4096, 4096), (4096, 1024), (4096, 11008), (11008, 4096), (4096, 14336), (14336, 4096), (4096, 32000)]
GEMM_M = [1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 640, 768, 1024, 1280, 1536, 2048, 2560, 3072, 4096]


def micro_gemv_gemm(dev, quick: bool) -> tuple:
    gemv, gemm = [], []
    shapes = GEMM_SHAPES if not quick else GEMM_SHAPES[:2]
    ms_list = GEMM_M if not quick else [1, 64, 1024]
    for (K, N) in (GEMV_SHAPES if not quick else GEMV_SHAPES[:2]):
        wbytes = K * N * BF16
        k = sets_for(wbytes, True)
        ws = [rand((N, K), dev, scale=0.02) for _ in range(k)]
        xs = [rand((1, K), dev) for _ in range(k)]
        fns = [lambda x=x, w=w: F.linear(x, w) for x, w in zip(xs, ws)]
        t = time_calls(fns, wbytes / 2.5e12 + 3e-6)
        gemv.append(bw_point("gemv", wbytes + (K + N) * BF16, t, K=K, N=N, weight_bytes=wbytes, dtype="bf16", via="F.linear, x [1, K], W [N, K]"))
        del ws, xs, fns
    for (K, N) in shapes:
        wbytes = K * N * BF16
        k = sets_for(wbytes, True)
        ws = [rand((N, K), dev, scale=0.02) for _ in range(k)]
        for M in ms_list:
            xs = [rand((M, K), dev) for _ in range(k)]
            flops = 2 * M * N * K
            moved = wbytes + (M * K + M * N) * BF16
            fns = [lambda x=x, w=w: F.linear(x, w) for x, w in zip(xs, ws)]
            t = time_calls(fns, max(moved / 2.5e12, flops / 6e14) + 3e-6, reps=5)
            us = t["us_per_call"]["median"]
            gemm.append({"op": "gemm", "M": M, "K": K, "N": N, "flops": flops, "bytes_moved": moved, **t,
                         "TFLOP_per_s": flops / (us * 1e-6) / 1e12, "GB_per_s": moved / (us * 1e-6) / 1e9})
            del xs, fns
        del ws
        torch.cuda.empty_cache()
    # Peak: one large square product (as the device notes measure it).
    n = 8192 if not quick else 2048
    a, b = rand((n, n), dev), rand((n, n), dev)
    t = time_calls([lambda: torch.mm(a, b)], 2 * n ** 3 / 7e14, reps=5, target_ms=20)
    peak = {"op": "mm", "n": n, **t, "TFLOP_per_s": 2 * n ** 3 / (t["us_per_call"]["median"] * 1e-6) / 1e12}
    x, w = rand((64, 4096), dev), rand((1024, 4096), dev, scale=0.02)
    ok = rel_err(F.linear(x, w), x.double() @ w.double().t()) < 1e-2
    del a, b
    torch.cuda.empty_cache()
    return gemv, gemm, peak, ok


def micro_attention(dev, quick: bool) -> tuple:
    dec, pre = [], []
    H, D = 32, 128
    for kvh, label in ((32, "mha"), (8, "gqa")):
        for b in ([1, 4, 16, 64] if not quick else [1, 16]):
            for L in ([128, 512, 1024, 2048, 4096, 8192] if not quick else [128, 4096]):
                kvb = 2 * b * kvh * L * D * BF16
                if kvb > 12 << 30:
                    continue
                k = sets_for(kvb, True)
                sets = [(rand((b, H, 1, D), dev), rand((b, kvh, L, D), dev), rand((b, kvh, L, D), dev)) for _ in range(k)]
                fns = [lambda q=q, kk=kk, v=v: F.scaled_dot_product_attention(q, kk, v, enable_gqa=kvh != H) for q, kk, v in sets]
                t = time_calls(fns, kvb / 2.5e12 + 4e-6)
                moved = kvb + 2 * b * H * D * BF16
                dec.append(bw_point("sdpa_decode", moved, t, kind=label, batch=b, kv_len=L, heads=H, kv_heads=kvh, head_dim=D,
                                    kv_bytes=kvb, flops=4 * b * H * L * D))
                del sets, fns
            torch.cuda.empty_cache()
    for kvh, label in ((32, "mha"), (8, "gqa")):
        for b in ([1, 4] if not quick else [1]):
            for S in ([128, 512, 1024, 2048, 4096] if not quick else [512]):
                q, kk, v = rand((b, H, S, D), dev), rand((b, kvh, S, D), dev), rand((b, kvh, S, D), dev)
                flops = 4 * b * H * S * S * D // 2  # causal: half the score matrix
                t = time_calls([lambda: F.scaled_dot_product_attention(q, kk, v, is_causal=True, enable_gqa=kvh != H)],
                               flops / 3e14 + 5e-6, reps=5)
                us = t["us_per_call"]["median"]
                pre.append({"op": "sdpa_prefill_causal", "kind": label, "batch": b, "seq": S, "heads": H, "kv_heads": kvh,
                            "head_dim": D, "flops": flops, **t, "TFLOP_per_s": flops / (us * 1e-6) / 1e12})
                del q, kk, v
    q, kk, v = rand((2, H, 1, D), dev), rand((2, 8, 256, D), dev), rand((2, 8, 256, D), dev)
    ref = torch.softmax((q.double() @ kk.double().repeat_interleave(4, 1).transpose(-1, -2)) / math.sqrt(D), -1) @ v.double().repeat_interleave(4, 1)
    ok = rel_err(F.scaled_dot_product_attention(q, kk, v, enable_gqa=True), ref) < 2e-2
    return dec, pre, ok


def micro_launch(dev) -> dict:
    n = 2000
    a = torch.randint(1, 1000, (256,), device=dev, dtype=torch.int32).to(torch.float32)
    b = torch.empty_like(a)

    def chain(m):
        for _ in range(m // 2):
            torch.add(a, 1, out=b)
            torch.add(b, 1, out=a)
    chain(10)
    torch.cuda.synchronize()
    eager_ms, eager_wall = [], []
    for _ in range(5):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        s.record()
        chain(n)
        e.record()
        torch.cuda.synchronize()
        eager_wall.append((time.perf_counter() - t0) * 1e3)
        eager_ms.append(s.elapsed_time(e))
    t = time_calls([lambda: torch.add(a, 1, out=b)], 1.2e-6, reps=9, target_ms=2.5)
    # A graph of one tiny kernel, launched and waited for from the host: fixed cost of a launch + sync.
    g = torch.cuda.CUDAGraph()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        torch.add(a, 1, out=b)
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    with torch.cuda.graph(g):
        torch.add(a, 1, out=b)
    one, sync = [], []
    for _ in range(50):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        g.replay()
        torch.cuda.synchronize()
        one.append((time.perf_counter() - t0) * 1e6)
    for _ in range(50):
        t0 = time.perf_counter()
        torch.cuda.synchronize()
        sync.append((time.perf_counter() - t0) * 1e6)
    return {
        "tensor": "256 float32 (1 KiB)",
        "eager_us_per_kernel_event": statistics.median(eager_ms) * 1e3 / n,
        "eager_us_per_kernel_wall": statistics.median(eager_wall) * 1e3 / n,
        "eager_kernels": n,
        "graph_us_per_kernel": t["us_per_call"]["median"],
        "graph": t,
        "graph_of_one_kernel_launch_and_sync_us": summary(one),
        "idle_synchronize_us": summary(sync),
    }


def micro_copies(dev) -> dict:
    res = {}
    nbytes = 256 << 20
    h = torch.empty(nbytes // 4, dtype=torch.int32, pin_memory=True)
    h.random_(0, 1 << 30)
    d = torch.empty(nbytes // 4, dtype=torch.int32, device=dev)
    for _ in range(2):
        d.copy_(h, non_blocking=True)
    torch.cuda.synchronize()
    ms = []
    for _ in range(8):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        d.copy_(h, non_blocking=True)
        e.record()
        torch.cuda.synchronize()
        ms.append(s.elapsed_time(e))
    res["h2d_pinned"] = {"bytes": nbytes, "ms": summary(ms), "GB_per_s": nbytes / (statistics.median(ms) * 1e-3) / 1e9,
                         "check_passed": bool(torch.equal(d[:4096].cpu(), h[:4096]))}
    del h, d
    nbytes = 2 << 30
    src = torch.randint(-2 ** 31, 2 ** 31 - 1, (nbytes // 4,), device=dev, dtype=torch.int32)
    dst = torch.empty_like(src)
    for _ in range(2):
        dst.copy_(src)
    torch.cuda.synchronize()
    ms = []
    for _ in range(10):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        dst.copy_(src)
        e.record()
        torch.cuda.synchronize()
        ms.append(s.elapsed_time(e))
    res["d2d"] = {"buffer_bytes": nbytes, "bytes_read_plus_written": 2 * nbytes, "ms": summary(ms),
                  "TB_per_s_read_plus_written": 2 * nbytes / (statistics.median(ms) * 1e-3) / 1e12,
                  "check_passed": bool(torch.equal(dst[-4096:], src[-4096:]))}
    del src, dst
    torch.cuda.empty_cache()
    return res


def run_micro(dev, quick: bool) -> dict:
    result = header("microbenchmarks for a kernel-by-kernel cost model: achieved bandwidth and FLOP/s against size, SDPA attention, launch costs", dev)
    result["method"] = ("each op captured n times into a CUDA graph, cycling through enough input sets that each call reads "
                        f"cold data (at least {ROTATE_BYTES >> 20} MiB a cycle) unless named warm; replay timed with CUDA events; "
                        "us_per_call = replay time / n (median, with spread, of several replays); includes the per-kernel cost of graph replay")
    t0 = time.perf_counter()
    checks = {}
    # The first graph a process captures replays its kernels faster (1.07 against 1.25 us on an H100,
    # docs/measurements.md): capture one first so that every figure here is taken in the usual state.
    a = torch.ones(256, device=dev)
    time_calls([lambda: torch.add(a, 1, out=a)], 1e-6, reps=2, target_ms=0.5)
    log("micro: launch and copies")
    result["launch"] = micro_launch(dev)
    result["copies"] = micro_copies(dev)
    checks["copies"] = result["copies"]["h2d_pinned"]["check_passed"] and result["copies"]["d2d"]["check_passed"]
    log("micro: elementwise and copy")
    result["elementwise"], checks["elementwise"] = micro_elementwise(dev, quick)
    log("micro: reduction and RMSNorm")
    result["norm"], checks["norm"] = micro_norm(dev, quick)
    log("micro: GEMV and GEMM")
    result["gemv"], result["gemm"], result["gemm_peak"], checks["gemm"] = micro_gemv_gemm(dev, quick)
    log("micro: attention")
    result["attention_decode"], result["attention_prefill"], checks["attention"] = micro_attention(dev, quick)
    result["smi"].append(smi("end"))
    result["checks"] = checks
    result["all_checks_passed"] = all(checks.values())
    result["seconds_spent"] = time.perf_counter() - t0
    return result


# ---------------------------------------------------------------- calibration (no GPU needed)

def sig(v: float, digits: int = 4) -> float:
    """v rounded to `digits` significant digits."""
    return float(f"{v:.{digits - 1}e}") if v else 0.0


def curve(points: list, x: str, y: str, source: str) -> dict:
    """Points (x, y) sorted by x, equal x averaged, x strictly increasing."""
    merged: dict[float, list] = {}
    for px, py in points:
        merged.setdefault(float(px), []).append(float(py))
    pts = [[int(px) if px.is_integer() else sig(px), sig(statistics.mean(ys))] for px, ys in sorted(merged.items())]
    pts = [p for p in pts if p[1] > 0]
    return {"x": x, "y": y, "points": pts, "source": source}


def derive_target(micro: dict, base: dict | None, name: str, framework: dict | None = None) -> dict:
    """A tierflow target whose efficiency curves come from the microbenchmarks alone; with `framework`
    (measure_framework.py's JSON), also what the framework adds around the kernels."""
    m = micro["machine"]
    where = f"{m['gpu']}, driver {m.get('driver')}, torch {m['torch']}, {micro['date_utc'][:10]}"
    made = "bench/device/measure_h100.py (microbenchmarks only)"
    copy_bw = micro["copies"]["d2d"]["TB_per_s_read_plus_written"] * 1e12
    peak_mm = micro["gemm_peak"]["TFLOP_per_s"] * 1e12
    launch = micro["launch"]
    sources: dict[str, str] = {}
    if base is not None:
        t = json.loads(json.dumps(base))
        sources.update(t.get("sources", {}))
        t.pop("efficiency", None)
    else:
        sm = m["sm_count"]
        clock = None
        try:
            clock = float(str(m["clocks_at_start"]["clocks.max.sm"]).split()[0]) * 1e6
        except Exception:  # noqa: BLE001
            clock = 1.5e9
        per_cycle = peak_mm / (sm * clock)
        smem = m.get("shared_memory_per_sm_bytes") or 100 * 1024
        t = {
            "name": name, "description": "", "execution": "kernel-by-kernel",
            "compute": {"units": sm, "clockHz": clock, "flopsPerCycle": {"bf16": per_cycle, "f16": per_cycle, "f32": per_cycle / 2}},
            "sram": {"units": sm, "bytesPerUnit": int(smem), "bandwidthPerUnit": 128 * clock},
            "hbm": {"bytes": int(m["memory_bytes"]), "bandwidth": copy_bw},
            "ddr": {"bytes": int(m["host_memory_bytes"]), "bandwidth": micro["copies"]["h2d_pinned"]["GB_per_s"] * 1e9},
            "host": {"bandwidth": micro["copies"]["h2d_pinned"]["GB_per_s"] * 1e9},
            "overheads": {"launchSeconds": 0.0, "sectionSwitchSeconds": 0},
        }
        sources.update({
            "compute.units": f"measured: multiprocessor count of {m['gpu']} (device properties)",
            "compute.clockHz": "nvidia-smi clocks.max.sm",
            "compute.flopsPerCycle.bf16": f"measured: {micro['gemm_peak']['TFLOP_per_s']:.0f} TFLOP/s for a {micro['gemm_peak']['n']}^3 bf16 product / units / clock (not a datasheet peak)",
            "compute.flopsPerCycle.f16": "assumed: as bf16",
            "compute.flopsPerCycle.f32": "assumed: half of bf16 (tf32 matrix units)",
            "sram.units": "one shared memory per multiprocessor",
            "sram.bytesPerUnit": "device properties: shared memory per multiprocessor",
            "sram.bandwidthPerUnit": "assumption: 128 B/cycle per multiprocessor",
            "hbm.bytes": "device properties: total memory",
            "ddr.bytes": "host memory of the machine measured",
            "ddr.bandwidth": "measured: host -> device copy from pinned memory",
            "host.bandwidth": "measured: host -> device copy from pinned memory",
            "overheads.sectionSwitchSeconds": "a GPU has no configuration to switch",
        })
    t["$schema"] = "../target.schema.json"
    t["name"] = name
    t["description"] = (f"{m['gpu']} kernel by kernel, with efficiency curves measured by {made} on {micro['date_utc'][:10]}"
                        + (f"; other figures as {base['name']}" if base is not None else ""))
    t["hbm"]["bandwidth"] = round(copy_bw, -9)
    sources["hbm.bandwidth"] = f"measured: device-to-device copy of {micro['copies']['d2d']['buffer_bytes'] >> 30} GiB, {copy_bw / 1e12:.2f} TB/s counting bytes read and written ({where})"
    t["overheads"]["launchSeconds"] = round(launch["graph_us_per_kernel"] * 1e-6, 9)
    sources["overheads.launchSeconds"] = f"measured: {launch['graph_us_per_kernel']:.2f} us per tiny kernel replayed from a CUDA graph ({where})"
    hbm = t["hbm"]["bandwidth"]
    peak = t["compute"]["units"] * t["compute"]["clockHz"] * t["compute"]["flopsPerCycle"]["bf16"]
    bw = lambda pts: [(x, gbs * 1e9 / hbm) for x, gbs in pts]  # noqa: E731
    ew = micro["elementwise"]
    sel = lambda op: [(p["bytes_moved"], p["GB_per_s"]) for p in ew if p["op"] == op]  # noqa: E731
    norm = micro["norm"]
    curves = {
        "elementwise": curve(bw(sel("add")), "bytes", "bandwidth", f"bf16 add of two tensors (3 x numel x 2 bytes moved), cold inputs, CUDA graph, {where}"),
        "elementwise-unary": curve(bw(sel("silu")), "bytes", "bandwidth", f"bf16 SiLU (2 x numel x 2 bytes moved), cold inputs, CUDA graph, {where}"),
        "copy": curve(bw(sel("copy")), "bytes", "bandwidth", f"bf16 copy_ (bytes read plus written), cold inputs, CUDA graph, {where}"),
        "reduction": curve(bw([(p["bytes_moved"], p["GB_per_s"]) for p in norm if p["op"] == "reduce_mean_last_axis"]), "bytes", "bandwidth",
                           f"bf16 mean over the last axis of [rows, 4096], one kernel, cold inputs, CUDA graph, {where}"),
        "rmsnorm": curve(bw([(p["bytes_moved"], p["GB_per_s"]) for p in norm if p["op"] == "rmsnorm_hf"]), "bytes", "bandwidth",
                         f"RMSNorm as transformers' LlamaRMSNorm runs it (several kernels) over [rows, 4096]; bytes = read x + write y once; {where}"),
        "gemv": curve(bw([(p["weight_bytes"], p["GB_per_s"]) for p in micro["gemv"]]), "bytes", "bandwidth",
                      f"bf16 F.linear of one row by a weight [N, K] at the Llama shapes; x = weight bytes; cold weights, CUDA graph, {where}"),
        "gemm": curve([(p["M"], p["TFLOP_per_s"] * 1e12 / peak) for p in micro["gemm"]], "rows", "compute",
                      f"bf16 F.linear [M, K] x [N, K]^T averaged over the Llama shapes {sorted({(p['K'], p['N']) for p in micro['gemm']})}; y = FLOP/s over the target's bf16 peak; {where}"),
        "attention-decode-mha": curve(bw([(p["kv_bytes"], p["GB_per_s"]) for p in micro["attention_decode"] if p["kind"] == "mha"]), "bytes", "bandwidth",
                                      f"SDPA, query length 1, 32 heads, 32 KV heads, head dim 128, batch x KV length; x = K + V bytes; {where}"),
        "attention-decode-gqa": curve(bw([(p["kv_bytes"], p["GB_per_s"]) for p in micro["attention_decode"] if p["kind"] == "gqa"]), "bytes", "bandwidth",
                                      f"SDPA enable_gqa, query length 1, 32 heads, 8 KV heads, head dim 128, batch x KV length; x = K + V bytes; {where}"),
        "attention-prefill": curve([(p["flops"], p["TFLOP_per_s"] * 1e12 / peak) for p in micro["attention_prefill"]], "flops", "compute",
                                   f"SDPA causal prefill (MHA and GQA, batch 1 and 4), x = FLOPs of the causal half; y = FLOP/s over the target's bf16 peak; {where}"),
    }
    for (K, N) in sorted({(p["K"], p["N"]) for p in micro["gemm"]}):
        curves[f"gemm.k{K}.n{N}"] = curve([(p["M"], p["TFLOP_per_s"] * 1e12 / peak) for p in micro["gemm"] if (p["K"], p["N"]) == (K, N)],
                                          "rows", "compute", f"bf16 F.linear [M, {K}] x [{N}, {K}]^T; {where}")
    t["efficiency"] = {
        "source": (f"{made} on {where}; every kernel replayed from a CUDA graph on cold inputs (L2-warm figures are in the "
                   "microbenchmarks' JSON, not here); y of a bandwidth curve is achieved bytes/s over hbm.bandwidth, of a compute "
                   "curve FLOP/s over the bf16 peak"),
        "curves": {k: v for k, v in curves.items() if len(v["points"]) > 0},
        "launch": {
            "graphKernelSeconds": round(launch["graph_us_per_kernel"] * 1e-6, 9),
            "eagerKernelSeconds": round(launch["eager_us_per_kernel_event"] * 1e-6, 9),
            "syncSeconds": round(launch["graph_of_one_kernel_launch_and_sync_us"]["median"] * 1e-6, 9),
        },
    }
    if framework is not None:
        import measure_framework  # imports this module: loaded only when needed
        section, repeat_kv = measure_framework.derive_framework(framework, micro, t["hbm"]["bandwidth"])
        t["efficiency"]["curves"]["repeat-kv"] = repeat_kv
        t["efficiency"]["framework"] = section
    t["sources"] = dict(sorted(sources.items()))
    order = ["$schema", "name", "description", "execution", "compute", "sram", "hbm", "ddr", "host", "overheads", "node", "efficiency", "sources"]
    return {k: t[k] for k in order if k in t}


def write_json(path: str, value: dict, indent=1) -> None:
    text = json.dumps(value, indent=indent)
    # A curve's [x, y] points one to a line.
    text = re.sub(r"\[\s+(-?[0-9][0-9.e+-]*),\s+(-?[0-9][0-9.e+-]*)\s+\]", r"[\1, \2]", text)
    with open(path, "w") as f:
        f.write(text + "\n")
    log(f"wrote {path}")


def print_grid(grid: dict) -> None:
    print(f"\n{'model':<13} {'phase':<8} {'b':>3} {'ctx':>5} {'status':<9} {'median ms':>10} {'min':>8} {'max':>8}  check")
    for p in grid["points"]:
        ms = p.get("ms", {})
        print(f"{p['model']:<13} {p['phase']:<8} {p['batch']:>3} {p.get('context', p.get('prompt')):>5} {p['status']:<9} "
              f"{ms.get('median', float('nan')):10.3f} {ms.get('min', float('nan')):8.3f} {ms.get('max', float('nan')):8.3f}  "
              f"{p.get('check', {}).get('passed', '-')}")
    for p in grid["points"]:
        if "profile" in p:
            pr = p["profile"]
            cls = ", ".join(f"{k} {v['ms_per_step']:.2f}" for k, v in sorted(pr["by_class"].items(), key=lambda kv: -kv[1]["ms_per_step"]))
            print(f"profile {p['model']} {p['phase']} b{p['batch']} {p.get('context', p.get('prompt'))}: {pr['kernels_per_step']:.0f} kernels, "
                  f"{pr['kernel_ms_per_step']:.2f} ms of kernels a step ({pr['source']}): {cls}")


def print_micro(micro: dict) -> None:
    c, la = micro["copies"], micro["launch"]
    print(f"\nd2d {c['d2d']['TB_per_s_read_plus_written']:.3f} TB/s, h2d pinned {c['h2d_pinned']['GB_per_s']:.1f} GB/s, "
          f"mm peak {micro['gemm_peak']['TFLOP_per_s']:.0f} TFLOP/s; launch graph {la['graph_us_per_kernel']:.3f} us, "
          f"eager {la['eager_us_per_kernel_event']:.2f} us, launch+sync {la['graph_of_one_kernel_launch_and_sync_us']['median']:.1f} us")
    for op in ("add", "copy", "silu"):
        pts = [p for p in micro["elementwise"] if p["op"] == op]
        print(f"{op:>6}: " + " ".join(f"{p['bytes_moved'] / 1e6:.3g}MB:{p['GB_per_s']:.0f}" for p in pts))
    print("  gemv: " + " ".join(f"{p['K']}x{p['N']}:{p['GB_per_s']:.0f}" for p in micro["gemv"]))
    print("  gemm 4096x11008 TFLOP/s: " + " ".join(f"{p['M']}:{p['TFLOP_per_s']:.0f}" for p in micro["gemm"] if (p["K"], p["N"]) == (4096, 11008)))
    print("  sdpa decode GB/s: " + " ".join(f"{p['kind']}{p['batch']}x{p['kv_len']}:{p['GB_per_s']:.0f}" for p in micro["attention_decode"]))
    print("  sdpa prefill TFLOP/s: " + " ".join(f"{p['kind']}{p['batch']}x{p['seq']}:{p['TFLOP_per_s']:.0f}" for p in micro["attention_prefill"]))
    print(f"micro checks: {micro['checks']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--grid-out", help="run the grid and profiles; write them here")
    ap.add_argument("--micro-out", help="write the microbenchmarks here")
    ap.add_argument("--calibrate", action="store_true", help="run the microbenchmarks and what transformers adds around the kernels (measure_framework.py), and write --target-out")
    ap.add_argument("--target-out", help="write a tierflow target file with efficiency curves from the microbenchmarks")
    ap.add_argument("--base", help="a tierflow target file whose other figures (SRAM, DDR, peaks, sources) the calibrated target keeps")
    ap.add_argument("--name", default=None, help="the calibrated target's name (default: base's name + '-measured', or 'gpu-measured')")
    ap.add_argument("--framework-out", help="with --calibrate: write measure_framework.py's measurements here (JSON)")
    ap.add_argument("--no-framework", action="store_true", help="with --calibrate: measure the kernels only, not what transformers adds around them")
    ap.add_argument("--from-micro", help="derive --target-out from this micro JSON; runs nothing on a GPU")
    ap.add_argument("--from-framework", help="with --from-micro: and the framework section from this measure_framework.py JSON")
    ap.add_argument("--quick", action="store_true", help="a small subset (two-layer models, few sizes) to check the script")
    ap.add_argument("--cpu", default="auto", help="run on this CPU ('auto': the lowest this process may use; 'none': unpinned)")
    args = ap.parse_args()
    if not (args.grid_out or args.micro_out or args.target_out):
        ap.error("nothing to do: give --grid-out, --micro-out or --target-out")
    base = None
    if args.base:
        with open(args.base) as f:
            base = json.load(f)
    name = args.name or (f"{base['name']}-measured" if base else "gpu-measured")

    if args.from_micro:
        if not args.target_out:
            ap.error("--from-micro needs --target-out")
        with open(args.from_micro) as f:
            micro = json.load(f)
        framework = None
        if args.from_framework:
            with open(args.from_framework) as f:
                framework = json.load(f)
        write_json(args.target_out, derive_target(micro, base, name, framework), indent=2)
        return 0
    if args.from_framework:
        ap.error("--from-framework goes with --from-micro")

    pin_cpu(args.cpu)
    dev = gpu_setup()
    ok = True
    micro = None
    if args.micro_out or args.calibrate or args.target_out:
        log("microbenchmarks")
        micro = run_micro(dev, args.quick)
        if args.micro_out:
            write_json(args.micro_out, micro)
        print_micro(micro)
        ok = ok and micro["all_checks_passed"]
        framework = None
        if args.calibrate and not args.no_framework:
            import measure_framework  # imports this module: loaded only when needed
            log("framework")
            framework = measure_framework.run_framework(dev)
            if args.framework_out:
                write_json(args.framework_out, framework)
            measure_framework.print_framework(framework)
            ok = ok and framework["all_checks_passed"]
        if args.target_out:
            write_json(args.target_out, derive_target(micro, base, name, framework), indent=2)
    if args.grid_out:
        log("grid")
        grid = run_grid(dev, args.quick, args.grid_out)
        write_json(args.grid_out, grid)
        print_grid(grid)
        ok = ok and grid["all_checks_passed"]
    print(f"all checks passed: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
