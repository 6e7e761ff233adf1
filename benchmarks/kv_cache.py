"""KV cache: the notebook's own figures (solutions/kv_cache/kv_cache.ipynb, run here) and its claims.

The notebook's code cells run in this process (benchmarks/_notebook.py): decoding speed with and
without the cache at several lengths (one run, one thread), cache bytes against the formula, and
the quality of the selective caches (sliding window, StreamingLLM, H2O with one set and per head,
the re-computation baseline) against the budget, with both position rules.
"""

from __future__ import annotations

from benchmarks._notebook import namespace
from course_lib import measure

NAMES = {"window": "sliding window", "streaming": "StreamingLLM (4 sinks)", "h2o": "H2O",
         "h2o_head": "H2O per head", "recompute": "re-computation"}


def _claim(cid, text, slide, holds):
    return {"id": f"kv_cache.{cid}", "notebook": "kv_cache", "text": text, "slide": slide,
            "holds": bool(holds)}


def run() -> list[dict]:
    ns = namespace("kv_cache")
    rows = []
    plain, cached, near = ns["t_plain"], ns["t_cached"], ns["per_token"]
    speedups = []
    for n in ns["LENGTHS"]:
        a, b = near(plain, n), near(cached, n)
        speedups.append(a / b)
        rows.append({"figure": f"decoding at length {n}: ms/token no cache / KV cache (speed-up)",
                     "value": f"{a * 1e3:.2f} / {b * 1e3:.2f} ({a / b:.1f}x)",
                     "lecture": "the cache removes the recomputation of the prefix"})
    rows[-1]["claim"] = _claim("speedup_grows", "The KV cache's speed-up per token grows with "
                               "the length (the uncached step recomputes the whole prefix)",
                               "KV cache", speedups == sorted(speedups) and speedups[0] > 1)
    rows.append({"figure": "cached vs uncached logits (max difference) / greedy tokens identical",
                 "value": f"{ns['max_diff']:.1e} / {ns['greedy_same']}",
                 "lecture": "the cache changes nothing but speed",
                 "claim": _claim("cache_exact", "Cached logits equal the uncached ones within "
                                 "1e-4 and greedy tokens are identical", "KV cache",
                                 ns["max_diff"] < 1e-4 and ns["greedy_same"])})
    big, cfg = ns["big_cache"], ns["cfg"]
    formula = ns["kv_cache_bytes"](cfg.n_layers, cfg.n_heads, cfg.d_head, len(big), 1, 4)
    rows.append({"figure": f"cache bytes after {len(big)} positions: held / formula",
                 "value": f"{big.nbytes():,} / {formula:,}",
                 "lecture": "2 x layers x heads x d_head x length x batch x bytes"})
    ms, lengths, kinds = ns["update_ms"], ns["CACHE_LENGTHS"], list(ns["kinds"])
    growth = {k: ms[k, lengths[-1]] / ms[k, lengths[0]] for k in kinds}
    cat, static = kinds
    rows.append({"figure": f"one cache update (8 heads x 128): ms at {lengths[0]} / "
                           f"{lengths[-1]} positions, torch.cat vs pre-allocated (medians of 7 "
                           "interleaved rounds)",
                 "value": " vs ".join(f"{ms[k, lengths[0]]:.3f} / {ms[k, lengths[-1]]:.3f} "
                                      f"({growth[k]:.1f}x)" for k in kinds),
                 "lecture": "KV cache (serving libraries pre-allocate)",
                 "claim": _claim("static_flat", "One update with torch.cat takes at least 10 "
                                 "times longer at 4,096 cached positions than at 256; one of the "
                                 "pre-allocated cache less than 3 times", "-",
                                 growth[cat] >= 10 and growth[static] < 3)})
    rows.append({"figure": "generate_cached with the pre-allocated cache: same tokens",
                 "value": str(ns["same"]), "lecture": "-"})
    f = ns["kv_cache_bytes"]
    rows.append({"figure": "Llama-2-7B fp16 KV cache: per token, at 4,096 tokens",
                 "value": f"{measure.format_bytes(f(32, 32, 128, 1, 1, 2))}, "
                          f"{measure.format_bytes(f(32, 32, 128, 4096, 1, 2))}",
                 "lecture": "0.5 MiB a token, 2 GiB at 4k tokens"})

    res, budgets, full = ns["results"], ns["BUDGETS"], ns["full_ppl"]
    ppl = lambda p, b: res[p, b][0]
    rows.append({"figure": "held-out perplexity, full cache (4 blocks of 256 tokens)",
                 "value": f"{full:.2f}", "lecture": "-"})
    for policy, name in NAMES.items():
        for b in budgets:
            rows.append({"figure": f"{name}, budget {b}: perplexity / greedy agreement",
                         "value": f"{res[policy, b][0]:.2f} / {res[policy, b][1]:.1%}",
                         "lecture": "selective KV cache"})
    ms = ns["ms_per_token"]
    for b in budgets:
        rows.append({"figure": f"budget {b}: perplexity with cache positions (window / "
                               f"StreamingLLM); ms per token StreamingLLM / re-computation",
                     "value": f"{ppl('window (cache positions)', b):.2f} / "
                              f"{ppl('streaming (cache positions)', b):.2f}; "
                              f"{ms['streaming', b]:.1f} / {ms['recompute', b]:.1f}",
                     "lecture": "StreamingLLM re-indexes positions inside the cache"})
    series = lambda p: ", ".join(f"{ppl(p, b):.2f}" for b in budgets)
    last = budgets[-1]
    per = f"perplexity at budgets {', '.join(map(str, budgets))}"
    policies = ("window", "streaming", "h2o", "h2o_head", "recompute")
    rises = all(ppl(p, b2) <= 1.02 * ppl(p, b1) for p in policies
                for b1, b2 in zip(budgets, budgets[1:]))
    checks = [
        (f"re-computation: {per} (full cache {full:.2f})", series("recompute"),
         _claim("recompute_near_full", "Sliding window with re-computation stays within 5% of "
                "the full cache's perplexity at every budget", "StreamingLLM's baseline",
                all(ppl("recompute", b) < 1.05 * full for b in budgets))),
        (f"all policies, text positions: {per}", " | ".join(series(p) for p in policies),
         _claim("quality_rises_with_budget", "With text positions, no policy's perplexity rises "
                "by more than 2% from one budget to the next", "StreamingLLM, H2O",
                rises)),
        (f"StreamingLLM / sliding window: {per}",
         f"{series('streaming')} | {series('window')}",
         _claim("sinks_help", "StreamingLLM (the first 4 tokens kept) has a lower perplexity "
                "than the plain sliding window at every budget", "StreamingLLM",
                all(ppl("streaming", b) < ppl("window", b) for b in budgets))),
        (f"H2O / StreamingLLM: {per}", f"{series('h2o')} | {series('streaming')}",
         _claim("h2o_vs_streaming", "H2O does better than StreamingLLM at budgets 64 and 128, "
                "worse at 16 and 32", "H2O",
                all(ppl("h2o", b) < ppl("streaming", b) for b in (64, 128))
                and all(ppl("h2o", b) > ppl("streaming", b) for b in (16, 32)))),
        (f"H2O per head / one set: {per}", f"{series('h2o_head')} | {series('h2o')}",
         _claim("h2o_head_close", "H2O per head (the paper's) and one set for the whole model "
                "stay within 10% of each other at every budget", "-",
                all(abs(ppl("h2o_head", b) / ppl("h2o", b) - 1) < 0.1 for b in budgets))),
        (f"StreamingLLM, cache positions / text positions: {per}",
         f"{series('streaming (cache positions)')} | {series('streaming')}",
         [_claim("cache_positions_help", "Cache positions for the new token (the paper's rule) "
                 "give StreamingLLM a lower perplexity than text positions at every budget",
                 "StreamingLLM re-indexes positions inside the cache",
                 all(ppl("streaming (cache positions)", b) < ppl("streaming", b) for b in budgets)),
          _claim("cache_positions_bump", "With cache positions StreamingLLM's perplexity rises "
                 "from budget 16 to 32", "-",
                 ppl("streaming (cache positions)", 32) > ppl("streaming (cache positions)", 16))]),
        (f"budget {last}: ms per token, re-computation / StreamingLLM (one run)",
         f"{ms['recompute', last]:.1f} / {ms['streaming', last]:.1f}",
         _claim("recompute_costs_more", "At the largest budget, re-computing the window costs "
                "more time per token than a StreamingLLM step", "-",
                ms["recompute", last] > ms["streaming", last]))]
    rows += [{"figure": f, "value": v, "lecture": "selective KV cache", "claim": c}
             for f, v, c in checks]
    share = ns["sink_share"]
    rows.append({"figure": "attention of queries at positions 128-255 on the first 4 tokens, "
                           "per layer", "value": ", ".join(f"{v:.1%}" for v in share),
                 "lecture": "attention sinks: LLMs pour much attention on the first tokens",
                 "claim": _claim("no_sinks", "Our decoder has no attention sinks: later queries "
                                 "put under 5% of their attention on the first 4 tokens, in "
                                 "every layer", "-", max(share) < 0.05)})
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['figure']}: {r['value']}   [{r['lecture']}]")
