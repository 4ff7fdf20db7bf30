"""Microbenchmarks of what Hugging Face transformers adds around the kernels, on one CUDA GPU.

bench/device/measure_h100.py measures kernels alone; the grid's profiles show two costs of the
framework that those do not: transformers 5.17 runs grouped-query attention by copying each
layer's keys and values to every query head first (`repeat_kv`: an expand of the KV heads
materialised by a strided copy kernel, not the vectorised `copy_` the copy curve measures), and
an eager forward is bound by the host where its kernels are short. This measures both apart from
any model size of the grid:

  * repeat_kv: transformers' own `repeat_kv` (8 KV heads to 32, head dim 128, bf16) over
    batch x tokens from 128 to 262144 tokens, captured many times into a CUDA graph on cold inputs
    as measure_h100.py's microbenchmarks are (time_calls); bytes moved = KV heads read + all heads
    written;
  * eager host cost: a tiny LlamaForCausalLM (hidden 256, 4 heads, 1 or 4 KV heads, vocabulary
    1024, SDPA, bf16) whose kernels take about a microsecond, so its eager forward (16 tokens, no
    cache) runs at the speed the host issues kernels; at 2 and 10 layers, the models taking turns over several rounds, the wall time of a
    synchronised forward and the kernels per forward (torch.profiler) give the host time per
    kernel a decoder layer issues (the slope) and the forward's fixed host time (the rest); each
    round also times a chain of bare eager tiny ops (micro_launch's), so the per-kernel cost is
    also given as a multiple of the bare op's on the same host in the same round;
  * graph replay: the same tiny model's decode step (batch 1, static cache of 1025 slots) captured
    into a CUDA graph and replayed as measure_h100.py measures the grid's decode (measure_decode),
    at 2 and 10 layers: the step's time per kernel of a decoder layer (the slope), the cost of a
    framework's small kernel, launch gap included, where the work is negligible;
  * the tiny-kernel launch figures of measure_h100.py again (micro_launch), to relate this
    machine's host to the one the grid ran on.

    python3 bench/device/measure_framework.py --out h100-framework.json

Needs PyTorch and transformers; about 30 s of GPU time. Reads the card's settings, never changes them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure_h100 as mh  # noqa: E402  (helpers: header, time_calls, sets_for, rand, summary, kernel_profile, micro_launch)

REPEAT_SHAPES = [(1, 128), (1, 512), (1, 2048), (1, 8192), (4, 8192), (16, 8192), (32, 8192)]
KV_HEADS, GROUPS, HEAD_DIM = 8, 4, 128
LAYERS = (2, 10)
TINY = {"vocab_size": 1024, "hidden_size": 256, "intermediate_size": 688, "num_attention_heads": 4}


def micro_repeat_kv(dev) -> tuple[list, bool]:
    torch = mh.torch
    from transformers.models.llama.modeling_llama import repeat_kv
    out = []
    for batch, tokens in REPEAT_SHAPES:
        read = batch * KV_HEADS * tokens * HEAD_DIM * mh.BF16
        moved = read + GROUPS * read
        k = mh.sets_for(moved, True)
        xs = [mh.rand((batch, KV_HEADS, tokens, HEAD_DIM), dev) for _ in range(k)]
        fns = [lambda x=x: repeat_kv(x, GROUPS) for x in xs]
        t = mh.time_calls(fns, moved / 1.2e12 + 2e-6)
        out.append(mh.bw_point("repeat_kv", moved, t, batch=batch, tokens=tokens, kv_heads=KV_HEADS, groups=GROUPS, head_dim=HEAD_DIM,
                               dtype="bf16", cold=k * moved >= mh.ROTATE_BYTES, cycle_bytes=k * moved))
        del xs, fns
        torch.cuda.empty_cache()
    x = mh.rand((2, KV_HEADS, 16, HEAD_DIM), dev)
    ok = bool(torch.equal(repeat_kv(x, GROUPS), x.repeat_interleave(GROUPS, dim=1)))
    return out, ok


def tiny_llama(dev, layers: int, kv_heads: int):
    return mh.llama_bf16(dev, **TINY, num_key_value_heads=kv_heads, num_hidden_layers=layers, max_position_embeddings=512)


def eager_forwards(dev, rounds: int = 31, reps: int = 20) -> list:
    """Each (layers, KV heads) model's synchronised eager forward, the models taking turns for `rounds` rounds (host noise spreads over all)."""
    torch = mh.torch
    models = []
    for kvh in (4, 1):
        for layers in LAYERS:
            model, cfg = tiny_llama(dev, layers, kvh)
            ids = torch.randint(0, cfg.vocab_size, (1, 16), device=dev)
            models.append((layers, kvh, model, ids))
    times = {(layers, kvh): ([], [], []) for layers, kvh, _, _ in models}
    out_finite = True
    # A bare eager op per round (measure_h100.py's micro_launch chain): the host's speed in that round.
    a = torch.randint(1, 1000, (256,), device=dev, dtype=torch.int32).to(torch.float32)
    b = torch.empty_like(a)
    bare = []

    def chain(m):
        for _ in range(m // 2):
            torch.add(a, 1, out=b)
            torch.add(b, 1, out=a)
    with torch.no_grad():
        for _ in range(rounds):
            chain(20)
            torch.cuda.synchronize()
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            chain(2000)
            e.record()
            torch.cuda.synchronize()
            bare.append(s.elapsed_time(e) * 1e3 / 2000)
            for layers, kvh, model, ids in models:
                for _ in range(5):
                    model(input_ids=ids, use_cache=False)
                torch.cuda.synchronize()
                wall, ms, rounds_ms = times[(layers, kvh)]
                this = []
                for _ in range(reps):
                    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    s.record()
                    out = model(input_ids=ids, use_cache=False).logits
                    e.record()
                    torch.cuda.synchronize()
                    wall.append((time.perf_counter() - t0) * 1e3)
                    ms.append(s.elapsed_time(e))
                    this.append(ms[-1])
                rounds_ms.append(statistics.median(this))
                out_finite = out_finite and bool(torch.isfinite(out).all())
        points = []
        for layers, kvh, model, ids in models:
            prof = mh.kernel_profile(lambda model=model, ids=ids: model(input_ids=ids, use_cache=False).logits, 3)
            wall, ms, rounds_ms = times[(layers, kvh)]
            points.append({"layers": layers, "kv_heads": kvh, "tokens": 16, "rounds": rounds, "round_medians_ms": rounds_ms, "ms_host_synchronized": mh.summary(wall),
                           "ms": mh.summary(ms), "kernels_per_forward": prof["kernels_per_step"], "kernel_ms_per_forward": prof["kernel_ms_per_step"],
                           "finite": out_finite})
    del models
    torch.cuda.empty_cache()
    return points, bare


def graph_decode(dev) -> list:
    """The tiny model's decode step (batch 1, 1024 tokens of static cache: the cache's own counter advances a slot a replay) replayed from a CUDA graph,
    as measure_h100.py's grid measures decode (measure_decode), at two layer counts and both KV head counts."""
    torch = mh.torch
    points = []
    for kvh in (4, 1):
        for layers in LAYERS:
            model, cfg = tiny_llama(dev, layers, kvh)
            head_dim = cfg.hidden_size // cfg.num_attention_heads
            info = {"kv_bytes_per_token": 2 * layers * kvh * head_dim * mh.BF16, "weight_bytes": sum(p.numel() for p in model.parameters()) * mh.BF16}
            pt = mh.measure_decode(model, cfg, info, 1, 1024, dev, 100, True)
            prof = pt.pop("profile", {})
            points.append({"layers": layers, "kv_heads": kvh, "status": pt.get("status"), "mode": pt.get("mode"), "ms": pt.get("ms"),
                           "kernels_per_step": prof.get("kernels_per_step"), "kernel_ms_per_step": prof.get("kernel_ms_per_step"),
                           "gpu_span_ms_per_step": prof.get("gpu_span_ms_per_step"), "check": pt.get("check", {}).get("passed", False)})
            del model
            torch.cuda.empty_cache()
    return points


def graph_cost(points: list) -> dict:
    """Per kernel of a decoder layer replayed from a graph: the slope of the step's time over the slope of its kernels."""
    out = {}
    for kvh in (4, 1):
        pts = {p["layers"]: p for p in points if p["kv_heads"] == kvh and p["status"] == "measured"}
        if len(pts) < 2:
            continue
        lo, hi = min(pts), max(pts)
        per_layer_ms = (pts[hi]["ms"]["median"] - pts[lo]["ms"]["median"]) / (hi - lo)
        kernels = (pts[hi]["kernels_per_step"] - pts[lo]["kernels_per_step"]) / (hi - lo)
        busy = (pts[hi]["kernel_ms_per_step"] - pts[lo]["kernel_ms_per_step"]) / (hi - lo)
        out[f"kv_heads_{kvh}"] = {"ms_per_layer": per_layer_ms, "kernels_per_layer": kernels, "us_per_kernel": per_layer_ms * 1e3 / kernels,
                                  "kernel_busy_us_per_kernel": busy * 1e3 / kernels}
    return out


def host_cost(points: list, bare: list) -> dict:
    """Per layer: host time and kernels (slope between the two layer counts, in each round; the median
    of the rounds' slopes); per kernel their ratio; what the forward spends outside its layers is fixed."""
    by = {}
    for p in points:
        by.setdefault(p["kv_heads"], {})[p["layers"]] = p
    out = {}
    for kvh, pts in sorted(by.items()):
        lo, hi = min(pts), max(pts)
        a, b = pts[lo], pts[hi]
        slopes = [(y - x) / (hi - lo) for x, y in zip(a["round_medians_ms"], b["round_medians_ms"])]
        per_layer_ms = statistics.median(slopes)
        kernels_per_layer = (b["kernels_per_forward"] - a["kernels_per_forward"]) / (hi - lo)
        per_kernel_us = per_layer_ms * 1e3 / kernels_per_layer
        ratios = [slope * 1e3 / kernels_per_layer / us for slope, us in zip(slopes, bare)]
        fixed_kernels = a["kernels_per_forward"] - lo * kernels_per_layer
        fixed_ms = a["ms"]["median"] - lo * per_layer_ms
        out[f"kv_heads_{kvh}"] = {
            "ms_per_layer": per_layer_ms, "ms_per_layer_rounds": mh.summary(slopes), "kernels_per_layer": kernels_per_layer,
            "us_per_kernel": per_kernel_us, "bare_eager_us_per_kernel_rounds": mh.summary(bare),
            "per_kernel_over_bare_eager": per_kernel_us / statistics.median(bare), "per_kernel_over_bare_eager_rounds": mh.summary(ratios),
            "kernels_outside_layers": fixed_kernels, "ms_outside_layers": fixed_ms,
            "us_fixed_beyond_kernels": fixed_ms * 1e3 - fixed_kernels * per_kernel_us,
        }
    return out


def framework_behaviour(dev) -> dict:
    """What transformers runs around the kernels, observed rather than assumed: during one decode step of
    a tiny grouped-query model (2 layers, 4 heads, 1 KV head) with a StaticCache, how often its SDPA path
    calls repeat_kv (KV heads copied to every query head) and how often the cache calls index_copy_."""
    torch = mh.torch
    import transformers.integrations.sdpa_attention as sdpa
    counts = {"repeat_kv": 0, "index_copy_": 0}
    repeat, index_copy = sdpa.repeat_kv, torch.Tensor.index_copy_

    def counting_repeat(*a, **k):
        counts["repeat_kv"] += 1
        return repeat(*a, **k)

    def counting_index_copy(self, *a, **k):
        counts["index_copy_"] += 1
        return index_copy(self, *a, **k)
    layers = 2
    model, cfg = tiny_llama(dev, layers, 1)
    cache = mh.static_cache(cfg, 1, 64, dev)
    kwargs = dict(input_ids=torch.zeros((1, 1), device=dev, dtype=torch.long), position_ids=torch.full((1, 1), 8, device=dev, dtype=torch.long),
                  cache_position=torch.tensor([8], device=dev, dtype=torch.long), past_key_values=cache, use_cache=True)
    with torch.no_grad():
        model(**kwargs)  # the static cache allocates its buffers on first use
        counts.update(repeat_kv=0, index_copy_=0)
        sdpa.repeat_kv, torch.Tensor.index_copy_ = counting_repeat, counting_index_copy
        try:
            model(**kwargs)
        finally:
            sdpa.repeat_kv, torch.Tensor.index_copy_ = repeat, index_copy
    del model, cache
    torch.cuda.empty_cache()
    return {"model": f"tiny Llama, {layers} layers, 4 heads, 1 KV head, StaticCache, one decode step",
            "repeat_kv_calls_per_layer": counts["repeat_kv"] / layers, "index_copy_calls_per_layer": counts["index_copy_"] / layers}


def derive_framework(fw: dict, micro: dict, hbm_bandwidth: float) -> tuple[dict, dict]:
    """The calibrated target's efficiency.framework, its repeat-kv curve and their sources, from this script's
    JSON and the microbenchmarks' (whose bare eager op puts the host cost on the grid run's scale)."""
    m = fw["machine"]
    where = (f"bench/device/measure_framework.py -> bench/device/h100-framework.json, {m['gpu']}, driver {m.get('driver')}, "
             f"torch {m['torch']}, transformers {m.get('transformers')}, {fw['date_utc'][:10]}")
    graph_us = statistics.mean(v["us_per_kernel"] for v in fw["graph_per_kernel"].values())
    host = fw["eager_host"].values()
    ratio = statistics.mean(v["per_kernel_over_bare_eager"] for v in host)
    bare_fw = statistics.mean(v["bare_eager_us_per_kernel_rounds"]["median"] for v in host)
    fixed_ops = statistics.mean(v["us_fixed_beyond_kernels"] for v in host) / bare_fw
    bare = micro["launch"]["eager_us_per_kernel_event"]
    seen = fw["behaviour"]
    framework = {
        "name": f"transformers {m.get('transformers')} with SDPA attention (torch {m['torch'].split('+')[0]})",
        "source": (f"how bench/device/measure_h100.py runs the grid: decode replayed from a CUDA graph, prefill one eager forward. From tiny Llama "
                   f"models at {' and '.join(str(n) for n in LAYERS)} layers ({where}): graphKernelSeconds, a decode step's time per kernel of a "
                   f"decoder layer replayed from a CUDA graph ({graph_us:.2f} us); eagerKernelSeconds, the host time per kernel of an eager "
                   f"forward, {ratio:.2f} times a bare eager tiny op timed in the same rounds, taken at the bare op's {bare:.2f} us measured with "
                   f"the microbenchmarks ({micro['date_utc'][:10]}): the host's speed varies from run to run, the ratio much less; "
                   f"eagerForwardSeconds, the forward's host time outside its kernels, {fixed_ops:.0f} bare ops on the same scale. "
                   f"repeatKvHeads and cacheWriteKernels as observed: {seen['repeat_kv_calls_per_layer']:g} repeat_kv and "
                   f"{seen['index_copy_calls_per_layer']:g} index_copy_ calls per layer of a grouped-query decode step with a StaticCache"),
        "launch": {"prefill": "eager", "decode": "graph"},
        "graphKernelSeconds": mh.sig(graph_us * 1e-6),
        "eagerKernelSeconds": mh.sig(ratio * bare * 1e-6),
        "eagerForwardSeconds": mh.sig(fixed_ops * bare * 1e-6, 3),
        "repeatKvHeads": seen["repeat_kv_calls_per_layer"] > 0,
        "cacheWriteKernels": seen["index_copy_calls_per_layer"] > 0,
    }
    points = [(p["bytes_moved"], p["GB_per_s"] * 1e9 / hbm_bandwidth) for p in fw["repeat_kv"]]
    lo, hi = fw["repeat_kv"][0], fw["repeat_kv"][-1]
    curve = mh.curve(points, "bytes", "bandwidth",
                     f"transformers' repeat_kv (bf16, {KV_HEADS} KV heads copied to {KV_HEADS * GROUPS} heads of dim {HEAD_DIM}, batch x tokens from "
                     f"{lo['batch']} x {lo['tokens']} to {hi['batch']} x {hi['tokens']}); x = bytes moved (KV heads read, all heads written); cold inputs, CUDA graph; {where}")
    return framework, curve


def run_framework(dev) -> dict:
    """Every measurement of this script, as the JSON it writes."""
    mh.gpu_setup()  # the helpers' module has its own torch (this may be imported by measure_h100.py run as a script)
    torch = mh.torch
    result = mh.header("framework costs around the kernels: transformers' repeat_kv copy against bytes, and the host time of an eager forward per kernel", dev)
    result["method"] = ("repeat_kv: measure_h100.py's time_calls (n calls captured into a CUDA graph, cold inputs, replay timed with CUDA events, "
                        "per call = replay / n); eager: wall time of a synchronised eager forward of a tiny model (host-bound) and its kernels "
                        "per forward from torch.profiler, at two layer counts; behaviour: calls counted during one decode step")
    t0 = time.perf_counter()
    a = torch.ones(256, device=dev)
    mh.time_calls([lambda: torch.add(a, 1, out=a)], 1e-6, reps=2, target_ms=0.5)  # the usual graph-replay state (see measure_h100.py)
    mh.log("launch")
    result["launch"] = mh.micro_launch(dev)
    mh.log("repeat_kv")
    result["repeat_kv"], ok_repeat = micro_repeat_kv(dev)
    mh.log("eager forwards")
    result["eager_forward"], bare = eager_forwards(dev)
    result["eager_host"] = host_cost(result["eager_forward"], bare)
    mh.log("graph-replayed decode steps")
    result["graph_decode"] = graph_decode(dev)
    result["graph_per_kernel"] = graph_cost(result["graph_decode"])
    mh.log("what transformers runs around SDPA and the static cache")
    result["behaviour"] = framework_behaviour(dev)
    result["smi"].append(mh.smi("end"))
    result["checks"] = {"repeat_kv": ok_repeat, "eager_finite": all(p["finite"] for p in result["eager_forward"]),
                        "graph_decode": all(p["check"] for p in result["graph_decode"])}
    result["all_checks_passed"] = all(result["checks"].values())
    result["seconds_spent"] = time.perf_counter() - t0
    return result


def print_framework(result: dict) -> None:
    for p in result["repeat_kv"]:
        print(f"repeat_kv b{p['batch']:>3} x {p['tokens']:>6}: {p['bytes_moved'] / 1e6:10.1f} MB  {p['us_per_call']['median']:10.2f} us  {p['GB_per_s']:8.1f} GB/s")
    for p in result["eager_forward"]:
        print(f"eager layers {p['layers']} kv {p['kv_heads']}: {p['ms']['median']:.3f} ms (p25 {p['ms']['p25']:.3f}, p75 {p['ms']['p75']:.3f}; {p['ms_host_synchronized']['median']:.3f} wall), "
              f"{p['kernels_per_forward']:.0f} kernels, {p['kernel_ms_per_forward']:.3f} ms of kernels")
    print(json.dumps(result["eager_host"], indent=1))
    for p in result["graph_decode"]:
        print(f"graph decode layers {p['layers']} kv {p['kv_heads']}: {p['status']} {p['mode']} {p['ms'] and p['ms']['median']} ms, {p['kernels_per_step']} kernels, "
              f"{p['kernel_ms_per_step']} ms of kernels, span {p['gpu_span_ms_per_step']}")
    print(json.dumps(result["graph_per_kernel"], indent=1))
    print(f"behaviour: {json.dumps(result['behaviour'])}")
    print(f"launch: eager {result['launch']['eager_us_per_kernel_event']:.2f} us/kernel, graph {result['launch']['graph_us_per_kernel']:.3f} us/kernel")
    print(f"all checks passed: {result['all_checks_passed']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--out", required=True, help="write the results here (JSON)")
    ap.add_argument("--cpu", default="auto", help="run on this CPU ('auto': the lowest this process may use; 'none': unpinned)")
    args = ap.parse_args()
    mh.pin_cpu(args.cpu)
    result = run_framework(mh.gpu_setup())
    mh.write_json(args.out, result)
    print_framework(result)
    return 0 if result["all_checks_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
