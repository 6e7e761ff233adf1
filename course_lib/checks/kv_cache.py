"""Visible checks for the KV-cache notebook (notebooks/kv_cache/kv_cache.ipynb). Properties only, no answers.

The cache must change nothing but speed, so most checks compare the student's cached computation
with course_lib's own uncached forward pass (`Attention.forward`, `Decoder.forward`), which is not
the exercise. Eviction policies are checked on small examples worked out by hand below.
"""

from __future__ import annotations

import torch

from . import CheckFailed, call, expect, expect_close, expect_shape, ok, tiny_model


def _tiny_decoder(seed=0, vocab=40, d=16, heads=2, layers=2, max_len=32):
    model = tiny_model(seed, causal=True, vocab_size=vocab, d_model=d, n_heads=heads,
                       n_layers=layers, max_len=max_len)
    with torch.no_grad():                       # spread the logits: no near-ties in argmax
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0, 0.3)
    return model


_call = call


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


def check_cached_attention(cached_attention, KVCache) -> None:
    from ..model import causal_mask
    attn, x = _attn_and_x()
    T = x.size(1)
    with torch.no_grad():
        full = attn(x, causal_mask(T, T)[None, None])                      # (2, T, d)
        cache = KVCache(1)
        pre = _call("cached_attention(attn, x, cache, 0)", cached_attention, attn, x[:, :4],
                    cache, 0)
        expect(isinstance(pre, torch.Tensor), "cached_attention must return a tensor (B, T_new, d)")
        expect(tuple(pre.shape) == (2, 4, 16), f"the prefill of 4 tokens returned shape "
               f"{tuple(pre.shape)}, expected (2, 4, 16)")
        expect(len(cache) == 4, f"after a prefill of 4 tokens the cache holds {len(cache)} "
                                "positions: append k and v with cache.update")
        expect_close(pre, full[:, :4], "prefill output vs Attention.forward with a causal mask",
                     hint="a multi-token prefill must stay causal: use causal_mask(T_new, T_all)")
        ok("a 4-token prefill equals full causal attention")
        for t in range(4, T):
            out = cached_attention(attn, x[:, t:t + 1], cache, 0)
            expect(tuple(out.shape) == (2, 1, 16),
                   f"one new token gave an output of shape {tuple(out.shape)}, expected (2, 1, 16):"
                   " compute the query of the new token only (cache K and V, never Q)")
            expect(tuple(cache.k[0].shape) == (2, 2, t + 1, 8),
                   f"cache K has shape {tuple(cache.k[0].shape)} after {t + 1} tokens, expected "
                   f"(2, 2, {t + 1}, 8)")
            expect_close(out, full[:, t:t + 1], f"the output of single step {t}",
                         hint="the single new query must see every cached key: the mask is "
                              "causal_mask(1, T_all), all True (the new query is the last one)")
    ok("step by step, each new token's output equals full attention (K, V cached, Q not)")
    attn.keep_attention = True
    with torch.no_grad():
        cached_attention(attn, x[:, :1], KVCache(1), 0)
    expect(attn.last_attention is not None and tuple(attn.last_attention.shape) == (2, 2, 1, 1),
           "when attn.keep_attention is True, store the weights in attn.last_attention "
           "(B, H, T_new, T_all)")
    ok("the attention weights are kept when attn.keep_attention is set")


def check_cached_forward(cached_forward, KVCache) -> None:
    model = _tiny_decoder(1)
    ids = torch.randint(7, 40, (2, 12))
    with torch.no_grad():
        full = model(input_ids=ids)["logits"]                                # (2, 12, V)
        cache = KVCache(len(model.blocks))
        pre = _call("cached_forward(model, ids[:, :5], cache)", cached_forward, model,
                    ids[:, :5], cache)
        expect_shape(pre, (2, 5, 40), "logits of a 5-token prefill (B, T_new, V)")
        expect_close(pre, full[:, :5], "prefill logits vs model(ids) (1e-4)", atol=1e-4,
                     hint="the prefill must match one full forward pass (pre-LN blocks, "
                          "ln_f, lm_head, causal mask)")
        ok("prefill logits equal the uncached forward pass")
        for t in range(5, 12):
            z = cached_forward(model, ids[:, t:t + 1], cache)
            expect_shape(z, (2, 1, 40), f"logits of step {t}")
            expect(len(cache) == t + 1, f"after {t + 1} tokens the cache holds {len(cache)}")
            expect_close(z, full[:, t:t + 1], f"logits of step {t} vs the uncached forward (1e-4)",
                         atol=1e-4, hint="positions not offset? The new token's position is "
                         "len(cache) before the step, not 0")
    ok("one token a step, cached logits equal uncached logits within 1e-4")
    print("All visible cached_forward checks passed.")


def check_generate_cached(generate_cached, KVCache) -> None:
    model = _tiny_decoder(2)
    ids = torch.randint(7, 40, (3, 4))
    calls = []
    handle = model.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        cache = KVCache(len(model.blocks))
        out = _call("generate_cached(model, ids, 10, cache=cache)", generate_cached, model, ids,
                    10, cache=cache)
    finally:
        handle.remove()
    expect(not calls, f"generate_cached called model(...) {len(calls)} times: use cached_forward "
                      "(prefill once, then one token a step)")
    expect_shape(out, (3, 14), "generate_cached(model, ids (3, 4), 10)")
    expect(torch.equal(out[:, :4], ids), "the output must start with the prompt")
    expect(len(cache) == 13, f"after a 4-token prompt and 10 new tokens the cache holds "
                             f"{len(cache)} positions, expected 13 (the last token is never fed)")
    ok("prefill once, then one token a step; the model is never re-run on the prefix")
    with torch.no_grad():
        for t in range(4, 14):
            z = model(input_ids=out[:, :t])["logits"][:, -1]
            expect(torch.equal(out[:, t], z.argmax(-1)),
                   f"token {t} differs from uncached greedy decoding")
    ok("greedy tokens are identical to uncached greedy decoding")


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


def check_sliding_window(keep_sliding_window) -> None:
    got = _indices(_call("keep_sliding_window(10, 4)", keep_sliding_window, 10, 4),
                   "keep_sliding_window")
    expect(got == [6, 7, 8, 9], f"keep_sliding_window(10, 4) gave {got}: keep the last 4")
    got = _indices(keep_sliding_window(3, 4), "keep_sliding_window")
    expect(got == [0, 1, 2], f"under the budget keep every token; got {got}")
    ok("the window keeps the most recent `budget` tokens")


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


def check_generate_batched(generate_batched, generate_cached) -> None:
    model = _tiny_decoder(3)
    prompts = [[9, 12, 30, 7, 18], [22], [5, 8, 33]]
    got = _call("generate_batched(model, prompts, 6)", generate_batched, model, prompts, 6)
    expect(isinstance(got, list) and len(got) == 3, "return one list of ids per prompt")
    for p, g in zip(prompts, got):
        expect(isinstance(g, list) and len(g) == len(p) + 6 and g[:len(p)] == p,
               f"each row should be its prompt followed by 6 new ids, without padding; got {g}")
        alone = generate_cached(model, torch.tensor([p]), 6)[0].tolist()
        expect(g == alone, f"prompt {p}: batched {g[len(p):]} but alone {alone[len(p):]}: mask "
                           "the padded keys and count positions over real tokens only")
    ok("batched generation with left padding equals one prompt at a time")
