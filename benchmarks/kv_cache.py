"""KV cache: decoding speed-up at several lengths, cache bytes vs the formula, and the quality of
selective caches (sliding window, StreamingLLM, H2O) against the budget.

The reference implementation comes from solutions/kv_cache/kv_cache.ipynb (autograde.verdict's
reference_namespace); every ratio is measured within this one process.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F

from autograde.verdict import reference_namespace
from course_lib import measure
from course_lib.datasets import load_corpus
from course_lib.datasets import pack_blocks
from course_lib.pretrained import load_decoder, load_tokenizer
from course_lib.runtime import set_threads

ROOT = Path(__file__).resolve().parent.parent
LENGTHS = [32, 64, 128, 255]
BUDGETS = [16, 32, 64, 128]
POLICIES = {"window": "sliding window", "streaming": "StreamingLLM (4 sinks)", "h2o": "H2O"}


def _step_times(ref, model, prompt, use_cache, total):
    times, ids = {}, prompt
    cache = ref["KVCache"](len(model.blocks))
    with torch.no_grad():
        z = ref["cached_forward"](model, ids, cache)[:, -1] if use_cache else None
        while ids.size(1) < total:
            start = time.perf_counter()
            if use_cache:
                nxt = z.argmax(-1, keepdim=True)
                z = ref["cached_forward"](model, nxt, cache)[:, -1]
            else:
                nxt = model(input_ids=ids)["logits"][:, -1].argmax(-1, keepdim=True)
            times[ids.size(1)] = time.perf_counter() - start
            ids = torch.cat([ids, nxt], dim=1)
    return times, cache


def _near(times, n, window=8):
    return min(v for k, v in times.items() if abs(k - n) < window)   # least disturbed step


def run() -> list[dict]:
    set_threads(1)
    ref = reference_namespace(nbformat.read(ROOT / "solutions" / "kv_cache" / "kv_cache.ipynb", as_version=4))
    tok, model = load_tokenizer(), load_decoder().eval()
    cfg = model.config
    prompt = torch.tensor([[tok.bos_id] + tok.encode("The Houston Rockets", add_cls=False)])
    rows = []

    plain, _ = _step_times(ref, model, prompt, False, cfg.max_len)
    cached, cache = _step_times(ref, model, prompt, True, cfg.max_len)
    for n in LENGTHS:
        a, b = _near(plain, n), _near(cached, n)
        rows.append({"figure": f"decoding at length {n}: ms/token no cache / KV cache (speed-up)",
                     "value": f"{a * 1e3:.2f} / {b * 1e3:.2f} ({a / b:.1f}x)",
                     "lecture": "the cache removes the recomputation of the prefix"})
    tps = lambda t: len(t) / sum(t.values())
    rows.append({"figure": f"tokens/s generating {cfg.max_len} tokens, no cache / KV cache",
                 "value": f"{tps(plain):.0f} / {tps(cached):.0f}", "lecture": ""})
    formula = ref["kv_cache_bytes"](cfg.n_layers, cfg.n_heads, cfg.d_head, len(cache), 1, 4)
    rows.append({"figure": f"cache bytes after {len(cache)} positions: held / formula",
                 "value": f"{cache.nbytes():,} / {formula:,}",
                 "lecture": "2 x layers x heads x d_head x length x batch x bytes"})
    rows.append({"figure": "Llama-2-7B fp16 KV cache: per token, at 4,096 tokens",
                 "value": f"{measure.format_bytes(ref['kv_cache_bytes'](32, 32, 128, 1, 1, 2))}, "
                          f"{measure.format_bytes(ref['kv_cache_bytes'](32, 32, 128, 4096, 1, 2))}",
                 "lecture": "0.5 MiB a token, 2 GiB at 4k tokens"})

    held_out = pack_blocks(tok, load_corpus("lm_valid"), cfg.max_len)[:4]
    with torch.no_grad():
        full = model(input_ids=held_out)["logits"]

    def quality(logits):
        nll = F.cross_entropy(logits[:, :-1].flatten(0, 1), held_out[:, 1:].flatten())
        return math.exp(nll.item()), (logits.argmax(-1) == full.argmax(-1)).float().mean().item()

    rows.append({"figure": "held-out perplexity, full cache (4 blocks of 256 tokens)",
                 "value": f"{quality(full)[0]:.2f}", "lecture": "decoder valid perplexity 3.0"})
    for policy, name in POLICIES.items():
        for budget in BUDGETS:
            logits, _ = ref["decode_with_budget"](model, held_out, policy, budget)
            ppl, agree = quality(logits)
            rows.append({"figure": f"{name}, budget {budget}: perplexity / greedy agreement",
                         "value": f"{ppl:.2f} / {agree:.1%}",
                         "lecture": "sinks and heavy hitters keep quality at small budgets"})
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['figure']}: {r['value']}   [{r['lecture']}]")
