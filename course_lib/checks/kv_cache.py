"""Visible checks for the KV-cache notebook (notebooks/kv_cache/kv_cache.ipynb). Properties only, no answers.

The cache must change nothing but speed, so most checks compare the student's cached computation
with course_lib's own uncached forward pass (`Attention.forward`, `Decoder.forward`), which is not
the exercise. Eviction policies are checked on small examples worked out by hand below.

Each exercise is checked on its own: where it calls an earlier one (cached_forward calls
cached_attention, generate_cached calls cached_forward, generate_batched calls generate_cached),
the check, and the hidden case, put a stand-in in its place that *recomputes* everything from
scratch with course_lib's uncached forward pass (the stand-ins below: slow, but no cache, so no
exercise's answer), so that a bug in the earlier exercise is never reported as this one's.
"""

from __future__ import annotations

import torch

from . import CheckFailed, call, expect, expect_close, expect_shape, ok, stand_ins, tiny_model, visible_check


# ------------------------------------------------------------------ stand-ins: recompute, no cache
class RecomputedKV:
    """A stand-in cache for cached_attention: `update(layer, k, v)` records the new k, v it is
    given and returns K, V of every position so far *recomputed* from the attention module and
    the whole input x_all (B, T, d) (never by appending to anything it stored)."""

    def __init__(self, attn, x_all: torch.Tensor):
        self.attn, self.x_all, self.n = attn, x_all, 0
        self.given = []                                   # the (k, v) of each update call

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        self.given.append((k, v))
        self.n += k.size(2)
        x = self.x_all[:, :self.n]                        # (B, T_all, d)
        return (self.attn.split_heads(self.attn.W_k(x)),  # (B, H, T_all, d_head)
                self.attn.split_heads(self.attn.W_v(x)))

    def __len__(self) -> int:
        return self.n


class RecomputedPrefix:
    """A stand-in cache for cached_forward: it keeps each layer's inputs so far (not K or V)."""

    def __init__(self, n_layers: int):
        self.x = [None] * n_layers                        # (B, T_all, d) inputs of each layer

    def __len__(self) -> int:
        return 0 if self.x[0] is None else self.x[0].size(1)


def recomputed_attention(attn, x, cache, layer, key_mask=None):
    """Stand-in for cached_attention: full causal attention over every input so far, recomputed
    with Attention.forward; the rows of the new tokens."""
    from ..model import causal_mask
    prev = cache.x[layer]
    cache.x[layer] = x if prev is None else torch.cat([prev, x], dim=1)   # (B, T_all, d)
    x_all = cache.x[layer]
    t_all, t_new = x_all.size(1), x.size(1)
    mask = causal_mask(t_all, t_all, device=x.device)[None, None]          # (1, 1, T, T)
    if key_mask is not None:                       # padded keys hidden; each query sees itself
        eye = torch.eye(t_all, dtype=torch.bool, device=x.device)[None, None]
        mask = (mask & key_mask.bool()[:, None, None, :]) | eye
    return attn(x_all, mask)[:, -t_new:]                                   # (B, T_new, d)


class RecomputedIds:
    """A stand-in cache for generate_cached: it keeps the ids seen so far."""

    def __init__(self, n_layers: int):
        self.ids = None                                   # (B, T_all)
        self.calls = []                                   # T_new of each forward call

    def __len__(self) -> int:
        return 0 if self.ids is None else self.ids.size(1)


def recomputed_forward(model, ids, cache, attention_mask=None, position_ids=None):
    """Stand-in for cached_forward: the uncached forward pass over every id so far (with a mask,
    positions count real tokens over the whole sequence); the logits of the new ids."""
    cache.calls.append(ids.size(1))
    cache.ids = ids if cache.ids is None else torch.cat([cache.ids, ids], dim=1)   # (B, T_all)
    real = None if attention_mask is None else attention_mask.long().cumsum(dim=1).sub(1)
    with torch.no_grad():
        out = model(input_ids=cache.ids, attention_mask=attention_mask,
                    position_ids=None if real is None else real.clamp(min=0))
    return out["logits"][:, -ids.size(1):]                                   # (B, T_new, V)


def scripted_generate(model, ids, n_new, attention_mask=None, cache=None):
    """Stand-in for generate_cached in generate_batched's checks: no model at all. Each row's
    new ids are a fixed function of its real tokens (those the mask marks, all when no mask) and
    of its last column, so padding handled wrongly shows up in the ids."""
    mask = torch.ones_like(ids) if attention_mask is None else attention_mask.long()
    real = ((ids * mask).sum(1, keepdim=True) + 7 * mask.sum(1, keepdim=True)
            + 5 * ids[:, -1:])                      # (B, 1); the last column is the last token
    new = (real * (torch.arange(n_new) + 1)[None] + torch.arange(n_new)[None]) % 97 + 3  # (B, n)
    return torch.cat([ids, new.to(ids.dtype)], dim=1)                                 # (B, T + n)


def _tiny_decoder(seed=0, vocab=40, d=16, heads=2, layers=2, max_len=32):
    model = tiny_model(seed, causal=True, vocab_size=vocab, d_model=d, n_heads=heads,
                       n_layers=layers, max_len=max_len)
    with torch.no_grad():                       # spread the logits: no near-ties in argmax
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.3)
    return model


_call = call


@visible_check
def check_generate_uncached(generate_uncached) -> None:
    model = _tiny_decoder()
    ids = torch.randint(7, 40, (2, 5))
    out = _call("generate_uncached(model, ids, 6)", generate_uncached, model, ids, 6)
    expect_shape(out, (2, 11), "generate_uncached(model, ids (2, 5), n_new=6)")
    expect(torch.equal(out[:, :5], ids), "the output must start with the prompt ids")
    with torch.no_grad():
        for t in range(5, 11):
            z = model(input_ids=out[:, :t])["logits"][:, -1]
            expect(torch.equal(out[:, t], z.argmax(-1)),
                   f"greedy token {t} is not the argmax of the last position's logits given the "
                   f"tokens before it")
    ok("greedy: every new token is the argmax of the model's next-token logits")
    a = _call("sampling", generate_uncached, model, ids, 6, 1.0, torch.Generator().manual_seed(1))
    b = generate_uncached(model, ids, 6, 1.0, torch.Generator().manual_seed(1))
    expect(torch.equal(a, b), "sampling with the same seeded generator must repeat: pass "
                              "generator=generator to torch.multinomial")
    draws = torch.cat([generate_uncached(model, ids, 6, 3.0, torch.Generator().manual_seed(s))
                       for s in range(5)])
    expect(not all(torch.equal(d, out[i % 2]) for i, d in enumerate(draws)),
           "with temperature 3 sampling always gave the greedy tokens: sample from "
           "softmax(z / T) with torch.multinomial")
    cold = generate_uncached(model, ids, 6, 1e-3, torch.Generator().manual_seed(2))
    expect(torch.equal(cold, out), "with a tiny temperature sampling should act greedy: "
                                   "divide the logits by T before the softmax")
    ok("sampling draws from softmax(z / T), reproducibly with a seeded generator")


@visible_check
def check_kv_cache(KVCache) -> None:
    cache = _call("KVCache(3)", KVCache, 3)
    expect(len(cache) == 0, f"an empty cache should have len 0, got {len(cache)}")
    B, H, dh = 2, 3, 4
    k1, v1 = torch.randn(B, H, 5, dh), torch.randn(B, H, 5, dh)
    K, V = _call("cache.update(0, k, v)", cache.update, 0, k1, v1)
    expect_shape(K, (B, H, 5, dh), "K after the first update (B, H, T, d_head)")
    expect(len(cache) == 5, f"after caching 5 positions len(cache) is {len(cache)}")
    k2, v2 = torch.randn(B, H, 1, dh), torch.randn(B, H, 1, dh)
    K, V = cache.update(0, k2, v2)
    expect(tuple(K.shape) == (B, H, 6, dh),
           f"K after appending one step has shape {tuple(K.shape)}, expected {(B, H, 6, dh)}: "
           "concatenate along the sequence dim (dim=2), not the heads or d_head")
    expect_shape(V, (B, H, 6, dh), "V after appending one step")
    expect(torch.equal(K[:, :, :5], k1) and torch.equal(K[:, :, 5:], k2)
           and torch.equal(V[:, :, :5], v1) and torch.equal(V[:, :, 5:], v2),
           "the cache must hold the old positions first, then the new one, unchanged")
    expect(len(cache) == 6, f"after 6 positions len(cache) is {len(cache)}")
    expect(cache.k[1] is None, "update(0, ...) must not touch the other layers")
    ok("update() appends along the sequence dim (dim 2) and returns the full K and V")
    ok("len(cache) counts the cached positions")


def _attn_and_x(seed=0, T=7, d=16, heads=2):
    from ..model import Attention, TransformerConfig
    torch.manual_seed(seed)
    attn = Attention(TransformerConfig(d_model=d, n_heads=heads, dropout=0.0)).eval()
    with torch.no_grad():
        for p in attn.parameters():
            p.normal_(0, 0.3)
    return attn, torch.randn(2, T, d)


@visible_check
def check_cached_attention(cached_attention) -> None:
    from ..model import causal_mask
    attn, x = _attn_and_x()
    T = x.size(1)
    with torch.no_grad():
        full = attn(x, causal_mask(T, T)[None, None])                      # (2, T, d)
        cache = RecomputedKV(attn, x)
        pre = _call("cached_attention(attn, x, cache, 0)", cached_attention, attn, x[:, :4],
                    cache, 0)
        expect(isinstance(pre, torch.Tensor), "cached_attention must return a tensor (B, T_new, d)")
        expect(len(cache.given) == 1, f"cached_attention called cache.update {len(cache.given)} "
                                      "times for one layer; call it once, with this step's k, v")
        k, v = cache.given[0]
        expect_shape(k, (2, 2, 4, 8), "the k passed to cache.update for a 4-token prefill "
                                      "(B, H, T_new, d_head)")
        expect_close(k, attn.split_heads(attn.W_k(x[:, :4])), "the k passed to cache.update",
                     hint="pass the keys of the new tokens, k = split_heads(W_k(x))")
        expect_close(v, attn.split_heads(attn.W_v(x[:, :4])), "the v passed to cache.update",
                     hint="pass the values of the new tokens, v = split_heads(W_v(x))")
        ok("this step's k and v, (B, H, T_new, d_head), go to cache.update")
        expect(tuple(pre.shape) == (2, 4, 16), f"the prefill of 4 tokens returned shape "
               f"{tuple(pre.shape)}, expected (2, 4, 16)")
        expect_close(pre, full[:, :4], "prefill output vs Attention.forward with a causal mask",
                     hint="a multi-token prefill must stay causal: use causal_mask(T_new, T_all)")
        ok("a 4-token prefill equals full causal attention")
        for t in range(4, T):
            out = cached_attention(attn, x[:, t:t + 1], cache, 0)
            expect(tuple(out.shape) == (2, 1, 16),
                   f"one new token gave an output of shape {tuple(out.shape)}, expected (2, 1, 16):"
                   " compute the query of the new token only (cache K and V, never Q)")
            expect_close(out, full[:, t:t + 1], f"the output of single step {t}",
                         hint="the single new query must see every cached key: the mask is "
                              "causal_mask(1, T_all), all True (the new query is the last one)")
    ok("step by step, each new token's output equals full attention (K, V cached, Q not)")
    attn.keep_attention = True
    with torch.no_grad():
        cached_attention(attn, x[:, :1], RecomputedKV(attn, x), 0)
    expect(attn.last_attention is not None and tuple(attn.last_attention.shape) == (2, 2, 1, 1),
           "when attn.keep_attention is True, store the weights in attn.last_attention "
           "(B, H, T_new, T_all)")
    ok("the attention weights are kept when attn.keep_attention is set")


@visible_check
def check_cached_forward(cached_forward) -> None:
    model = _tiny_decoder(1)
    ids = torch.randint(7, 40, (2, 12))
    rows = []                                         # rows (tokens) through the first block
    handle = model.blocks[0].ln_1.register_forward_hook(lambda m, a, o: rows.append(o.shape[1]))
    try:
        with torch.no_grad(), stand_ins(cached_forward, cached_attention=recomputed_attention):
            full = model(input_ids=ids)["logits"]                            # (2, 12, V)
            rows.clear()
            cache = RecomputedPrefix(len(model.blocks))
            pre = _call("cached_forward(model, ids[:, :5], cache)", cached_forward, model,
                        ids[:, :5], cache)
            expect_shape(pre, (2, 5, 40), "logits of a 5-token prefill (B, T_new, V)")
            expect_close(pre, full[:, :5], "prefill logits vs model(ids) (1e-4)", atol=1e-4,
                         hint="the prefill must match one full forward pass (pre-LN blocks, "
                              "after_attn / after_ffn, ln_f, lm_head)")
            ok("prefill logits equal the uncached forward pass")
            for t in range(5, 12):
                z = cached_forward(model, ids[:, t:t + 1], cache)
                expect_shape(z, (2, 1, 40), f"logits of step {t}")
                expect_close(z, full[:, t:t + 1], f"logits of step {t} vs the uncached forward "
                             "(1e-4)", atol=1e-4, hint="the new token's position is len(cache) "
                             "before the step, not 0")
    finally:
        handle.remove()
    expect(rows == [5] + [1] * 7, f"the first block saw {rows} tokens per call: run the blocks on "
                                  "the new tokens only (the cache holds the past)")
    ok("one token a step through the blocks; logits equal uncached logits within 1e-4")
    print("All visible cached_forward checks passed (with a stand-in for cached_attention).")


@visible_check
def check_generate_cached(generate_cached) -> None:
    model = _tiny_decoder(2)
    ids = torch.randint(7, 40, (3, 4))
    calls = []
    handle = model.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        cache = RecomputedIds(len(model.blocks))
        with stand_ins(generate_cached, cached_forward=recomputed_forward,
                       KVCache=RecomputedIds):
            out = _call("generate_cached(model, ids, 10, cache=cache)", generate_cached, model,
                        ids, 10, cache=cache)
    finally:
        handle.remove()
    direct = len(calls) - len(cache.calls)                 # the stand-in calls model() itself
    expect(direct == 0, f"generate_cached called model(...) {direct} times: use cached_forward "
                        "(prefill once, then one token a step)")
    expect_shape(out, (3, 14), "generate_cached(model, ids (3, 4), 10)")
    expect(torch.equal(out[:, :4], ids), "the output must start with the prompt")
    expect(cache.calls == [4] + [1] * 9, f"cached_forward got {cache.calls} tokens per call: "
                                         "prefill the 4 prompt tokens once, then feed one new "
                                         "token a step (the last one is never fed)")
    ok("prefill once, then one token a step; the model is never re-run on the prefix")
    with torch.no_grad():
        for t in range(4, 14):
            z = model(input_ids=out[:, :t])["logits"][:, -1]
            expect(torch.equal(out[:, t], z.argmax(-1)),
                   f"token {t} is not the argmax of the logits after the tokens before it")
    ok("greedy tokens are identical to uncached greedy decoding")
    print("All visible generate_cached checks passed (with a stand-in for cached_forward).")


@visible_check
def check_kv_cache_bytes(kv_cache_bytes) -> None:
    n = _call("kv_cache_bytes(32, 32, 128, 4096, 1, 2)", kv_cache_bytes, 32, 32, 128, 4096, 1, 2)
    one = kv_cache_bytes(32, 32, 128, 1, 1, 2)
    expect(one == 2**19, f"Llama-2-7B fp16 needs 0.5 MiB (524,288 bytes) a token; got {one:,}: "
                         "2 (K and V) x layers x heads x d_head x bytes")
    expect(n == 2 * 2**30, f"Llama-2-7B fp16 at 4,096 tokens should be 2 GiB; got {n:,} bytes")
    expect(kv_cache_bytes(32, 32, 128, 4096, 8, 2) == 8 * n, "the cache grows with the batch")
    expect(kv_cache_bytes(32, 8, 128, 4096, 1, 2) * 4 == n,
           "with 8 KV heads (GQA) the cache is 4 times smaller than with 32")
    ok("Llama-2-7B fp16: 0.5 MiB a token, 2 GiB at 4,096 tokens; linear in batch and heads")


def _indices(result, what):
    if not isinstance(result, torch.Tensor):
        raise CheckFailed(f"{what} should return a torch.Tensor of indices, got "
                          f"{type(result).__name__}")
    return result.tolist()


@visible_check
def check_sliding_window(keep_sliding_window) -> None:
    got = _indices(_call("keep_sliding_window(10, 4)", keep_sliding_window, 10, 4),
                   "keep_sliding_window")
    expect(got == [6, 7, 8, 9], f"keep_sliding_window(10, 4) gave {got}: keep the last 4")
    got = _indices(keep_sliding_window(3, 4), "keep_sliding_window")
    expect(got == [0, 1, 2], f"under the budget keep every token; got {got}")
    ok("the window keeps the most recent `budget` tokens")


@visible_check
def check_streaming(keep_streaming) -> None:
    got = _indices(_call("keep_streaming(12, 7)", keep_streaming, 12, 7), "keep_streaming")
    expect(got != [5, 6, 7, 8, 9, 10, 11], "no sinks: StreamingLLM keeps the first 4 tokens "
                                           "(attention sinks) plus the recent window")
    expect(got == [0, 1, 2, 3, 9, 10, 11], f"keep_streaming(12, 7) gave {got}, expected the 4 "
                                           "sinks 0-3 and the 3 most recent tokens")
    got = _indices(keep_streaming(12, 6, n_sink=2), "keep_streaming")
    expect(got == [0, 1, 8, 9, 10, 11], f"keep_streaming(12, 6, n_sink=2) gave {got}")
    got = _indices(keep_streaming(5, 7), "keep_streaming")
    expect(got == [0, 1, 2, 3, 4], f"under the budget keep every token; got {got}")
    ok("StreamingLLM keeps n_sink attention sinks plus the most recent tokens")


@visible_check
def check_h2o(keep_h2o) -> None:
    # 3 steps x 8 tokens; budget 5 with 2 recent tokens -> 3 heavy hitters among tokens 0..5.
    # Accumulated scores of tokens 0..5: .31 .45 .12 .35 .20 .39 -> heavy hitters 1, 5, 3.
    # The last row alone would pick 0, 2, 4 (the mistake of not accumulating).
    a = torch.tensor([[.10, .40, .01, .30, .03, .36, .00, .00],
                      [.11, .03, .02, .02, .04, .02, .70, .00],
                      [.10, .02, .09, .03, .13, .01, .02, .60]])
    got = _indices(_call("keep_h2o(attention, 5, 2)", keep_h2o, a, 5, 2), "keep_h2o")
    expect(got != [0, 2, 4, 6, 7], "you ranked tokens by the last step's attention only: H2O "
                                   "accumulates (sums) the attention over all steps")
    expect(len(got) == 5, f"keep exactly `budget` = 5 tokens, got {len(got)}")
    expect(got[-2:] == [6, 7], "the 2 most recent tokens are always kept")
    expect(got == [1, 3, 5, 6, 7], f"keep_h2o gave {got}, expected the heavy hitters 1, 3, 5 "
                                   "(largest accumulated attention) then 6, 7, sorted")
    got = _indices(keep_h2o(a[:, :4], 5, 2), "keep_h2o")
    expect(got == [0, 1, 2, 3], f"under the budget keep every token; got {got}")
    ok("H2O keeps the recent window plus the top older tokens by accumulated attention")


@visible_check
def check_generate_batched(generate_batched) -> None:
    prompts = [[9, 12, 30, 7, 18], [22], [5, 8, 33]]
    with stand_ins(generate_batched, generate_cached=scripted_generate):
        got = _call("generate_batched(model, prompts, 6)", generate_batched, None, prompts, 6)
        alone = [scripted_generate(None, torch.tensor([p]), 6)[0].tolist() for p in prompts]
    expect(isinstance(got, list) and len(got) == 3, "return one list of ids per prompt")
    for p, g, a in zip(prompts, got, alone):
        expect(isinstance(g, list) and len(g) == len(p) + 6 and g[:len(p)] == p,
               f"each row should be its prompt followed by 6 new ids, without padding; got {g}")
        expect(g == a, f"prompt {p}: the new ids depend on the padding: pad on the left and "
                       "pass an attention_mask with 0 on the padding to generate_cached")
    ok("left padding with its attention_mask, the padding stripped from the result")
