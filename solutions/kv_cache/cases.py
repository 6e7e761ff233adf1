"""Hidden cases of the KV-cache notebook (solutions/kv_cache/kv_cache.py): seeded inputs, no answers.

Models are tiny random Decoders built from the seed (weights spread so argmax has no near-ties);
the grader runs the same case on the reference objects and compares the outputs. An exercise that
calls an earlier one runs with a recomputing stand-in in its place (course_lib.checks.kv_cache:
RecomputedKV, recomputed_attention, recomputed_forward, scripted_generate), so its points depend
on it alone.
"""

import torch

from autograde.spec import Case
from course_lib.checks import stand_ins
from course_lib.checks.kv_cache import (
    RecomputedIds,
    RecomputedKV,
    RecomputedPrefix,
    recomputed_attention,
    recomputed_forward,
    scripted_generate,
)
from course_lib.model import Attention, Decoder, TransformerConfig

VOCAB = 50


def _decoder(seed, layers=2, heads=2, d=16, max_len=40):
    torch.manual_seed(100 + seed)
    cfg = TransformerConfig(vocab_size=VOCAB, d_model=d, n_heads=heads, n_layers=layers, d_ff=32,
                            max_len=max_len, dropout=0.0, causal=True)
    model = Decoder(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.3)
    return model


def _gen(seed):
    return torch.Generator().manual_seed(2000 + seed)


def _ids(g, B, T):
    return torch.randint(7, VOCAB, (B, T), generator=g)


def _generate_uncached(objects, seed):
    model = _decoder(seed, layers=1 + seed % 2)
    g = _gen(seed)
    B, T, n = [(1, 3, 6), (2, 5, 4), (3, 1, 8)][seed]
    ids = _ids(g, B, T)
    gen = objects["generate_uncached"]
    return {"greedy": gen(model, ids, n),
            "sampled": gen(model, ids, n, 0.8, torch.Generator().manual_seed(seed)),
            "hot": gen(model, ids, n, 2.0, torch.Generator().manual_seed(seed + 10))}


def _kv_cache(objects, seed):
    B, H, dh, chunks = [(1, 2, 4, [3, 1, 1]), (2, 4, 8, [1, 1, 1, 1]), (3, 1, 2, [5, 2, 1])][seed]
    g = _gen(seed)
    cache = objects["KVCache"](2)
    out = {"len_empty": len(cache), "lens": [], "K": [], "V": [], "k_shapes_layer1": []}
    for n in chunks:
        k, v = torch.randn(B, H, n, dh, generator=g), torch.randn(B, H, n, dh, generator=g)
        K, V = cache.update(0, k, v)
        out["K"].append(K)
        out["V"].append(V)
        out["lens"].append(len(cache))
        K1, _ = cache.update(1, k[:, :, :1] * 2, v[:, :, :1] * 2)
        out["k_shapes_layer1"].append(list(K1.shape))
    return out


def _attention(seed, d=16, heads=2):
    torch.manual_seed(300 + seed)
    attn = Attention(TransformerConfig(d_model=d, n_heads=heads, dropout=0.0)).eval()
    with torch.no_grad():
        for p in attn.parameters():
            p.normal_(0, 0.3)
    return attn


def _cached_attention(objects, seed):
    """A prefill of several tokens, then single steps and a 2-token chunk; seed 2 with a key mask
    (two padded keys at the start of row 1)."""
    attn = _attention(seed)
    g = _gen(seed)
    B, prefill, chunks = [(1, 4, [1, 1, 2, 1]), (2, 1, [1, 1, 1]), (2, 6, [2, 1, 1])][seed]
    sizes = [prefill] + chunks
    x_all = torch.randn(B, sum(sizes), 16, generator=g)
    key_mask = None
    if seed == 2:
        key_mask = torch.ones(B, sum(sizes), dtype=torch.bool)
        key_mask[1, :2] = False
    cache = RecomputedKV(attn, x_all)
    outs, start = [], 0
    with torch.no_grad():
        for n in sizes:
            x = x_all[:, start:start + n]
            start += n
            mask = None if key_mask is None else key_mask[:, :start]
            outs.append(objects["cached_attention"](attn, x, cache, 0, mask))
    return {"outputs": outs, "k_given": [k for k, _ in cache.given],
            "v_given": [v for _, v in cache.given]}


def _cached_forward(objects, seed):
    """Random prompt and chunk lengths; seed 2 left-padded with an attention mask, seed 3 with
    explicit position_ids. Logits of every call, and the rows through the first block."""
    model = _decoder(seed, layers=2 + seed % 2)
    g = _gen(seed)
    B = 1 + seed % 2 if seed != 2 else 2
    T = 8 + int(torch.randint(0, 10, (1,), generator=g))
    ids = _ids(g, B, T)
    prefill = 1 + int(torch.randint(0, 5, (1,), generator=g))
    bounds = [0, prefill] + list(range(prefill + 1, T - 2)) + [T]   # ... singles, last chunk of 2+
    mask = None
    if seed == 2:
        mask = torch.ones(B, T, dtype=torch.long)
        mask[0, :2] = 0                                            # row 0 left-padded by 2
    rows = []
    handle = model.blocks[0].ln_1.register_forward_hook(lambda m, a, o: rows.append(o.shape[1]))
    cache, logits = RecomputedPrefix(len(model.blocks)), []
    f = objects["cached_forward"]
    try:
        with torch.no_grad(), stand_ins(f, cached_attention=recomputed_attention):
            for a, b in zip(bounds, bounds[1:]):
                if seed == 3:
                    pos = (torch.arange(a, b)[None] + 3).expand(B, -1)      # shifted by 3
                    logits.append(f(model, ids[:, a:b], cache, position_ids=pos))
                elif mask is not None:
                    logits.append(f(model, ids[:, a:b], cache, attention_mask=mask[:, :b]))
                else:
                    logits.append(f(model, ids[:, a:b], cache))
    finally:
        handle.remove()
    logits = torch.cat(logits, dim=1)                                # (B, T, V)
    if mask is not None:
        logits = logits * mask[..., None]                  # compare the real tokens only
    return {"logits": logits, "block_rows": rows}


def _generate_cached(objects, seed):
    """Seed 1 passes no cache (the function makes its own); seed 2 a left-padding mask."""
    model = _decoder(seed)
    g = _gen(seed)
    B, T, n = [(1, 2, 12), (2, 6, 9), (3, 3, 20)][seed]
    ids = _ids(g, B, T)
    mask = None
    if seed == 2:
        mask = torch.ones(B, T, dtype=torch.long)
        mask[0, 0] = 0
    f = objects["generate_cached"]
    made = []

    class Made(RecomputedIds):                       # the cache the function makes itself
        def __init__(self, n_layers):
            super().__init__(n_layers)
            made.append(self)

    calls = []                                       # every model(...) call, the stand-in's too
    handle = model.register_forward_pre_hook(lambda m, a: calls.append(1))
    given = None if seed == 1 else RecomputedIds(len(model.blocks))
    try:
        with stand_ins(f, cached_forward=recomputed_forward, KVCache=Made):
            out = f(model, ids, n) if given is None else f(model, ids, n, attention_mask=mask,
                                                             cache=given)
    finally:
        handle.remove()
    used = made + ([given] if given is not None else [])
    fed = (given or (made[0] if made else RecomputedIds(0))).calls
    return {"ids": out, "fed": list(fed), "caches_made": len(made),
            "direct_model_calls": len(calls) - sum(len(c.calls) for c in used)}


def _kv_cache_bytes(objects, seed):
    args = [[(32, 32, 128, 4096, 1, 2), (4, 4, 16, 100, 1, 4)],
            [(80, 8, 128, 4096, 16, 2), (40, 40, 128, 2048, 3, 2)],
            [(2, 3, 5, 7, 11, 1), (1, 1, 1, 1, 1, 4)]][seed]
    return {"bytes": [objects["kv_cache_bytes"](*a) for a in args]}


def _sliding_window(objects, seed):
    args = [[(10, 4), (3, 4), (4, 4)], [(100, 16), (17, 16)], [(50, 1), (8, 7)]][seed]
    return {"kept": [objects["keep_sliding_window"](*a) for a in args]}


def _streaming(objects, seed):
    args = [[(20, 8), (5, 8), (9, 8)], [(100, 16, 4), (30, 10, 2)], [(64, 12, 4), (13, 12, 4)]][seed]
    return {"kept": [objects["keep_streaming"](*a) for a in args]}


def _h2o(objects, seed):
    """Continuous random attention rows (distinct values); tokens appear one per step."""
    g = _gen(seed)
    out = []
    for steps, n, budget, recent in [[(6, 10, 5, 2), (4, 6, 8, 4)],
                                     [(12, 20, 8, 4), (3, 9, 6, 3)],
                                     [(20, 30, 10, 5), (8, 16, 7, 1)]][seed]:
        a = torch.rand(steps, n, generator=g)
        a = torch.tril(a, diagonal=n - steps)                   # step s sees tokens 0..n-steps+s
        a = a / a.sum(-1, keepdim=True)
        out.append(objects["keep_h2o"](a, budget, recent))
    return {"kept": out}


def _generate_batched(objects, seed):
    """generate_cached replaced by a scripted stand-in whose new ids depend on each row's real
    tokens and last column: only the padding, the mask and the stripping matter."""
    g = _gen(seed)
    lengths = [[5, 1, 3], [2, 7], [4, 4, 1, 6]][seed]
    prompts = [_ids(g, 1, n)[0].tolist() for n in lengths]
    f = objects["generate_batched"]
    with stand_ins(f, generate_cached=scripted_generate):
        return {"ids": f(_decoder(seed, max_len=40), prompts, 5 + seed)}


LOGITS = dict(atol=1e-4, rtol=1e-4)
CASES = {
    "generate_uncached": Case(_generate_uncached, seeds=(0, 1, 2), requires={
        "greedy": "temperature 0: each new token is the argmax of the last position's logits "
                  "given the whole sequence so far; (B, T + n_new) ids",
        "sampled": "temperature 0.8: each new token is torch.multinomial(softmax(z / T), 1, "
                   "generator=generator)",
        "hot": "temperature 2.0: the same sampling rule, softmax(z / T)"}),
    "kv_cache": Case(_kv_cache, seeds=(0, 1, 2), requires={
        "len_empty": "an empty cache has length 0",
        "lens": "len(cache) is the number of positions cached so far",
        "K": "update() returns K holding every position cached so far in this layer, old ones "
             "first: (B, H, T_past + T_new, d_head)",
        "V": "update() returns V holding every position cached so far in this layer, old ones "
             "first: (B, H, T_past + T_new, d_head)",
        "k_shapes_layer1": "each layer keeps its own K and V"}),
    "cached_attention": Case(_cached_attention, seeds=(0, 1, 2), **LOGITS, requires={
        "outputs": "each call returns (B, T_new, d): the new tokens' attention over every key "
                   "so far, causal within the new tokens, padded keys hidden by key_mask "
                   "(seed 2), then head_gate, merge_heads and W_o",
        "k_given": "cache.update receives this call's keys only: split_heads(W_k(x)), "
                   "(B, H, T_new, d_head)",
        "v_given": "cache.update receives this call's values only: split_heads(W_v(x))"}),
    "cached_forward": Case(_cached_forward, seeds=(0, 1, 2, 3), **LOGITS, requires={
        "logits": "the logits of the new tokens equal the uncached forward pass: positions "
                  "offset by the cache length (seed 2: counted over real tokens; seed 3: the "
                  "position_ids given), pre-LN blocks, ln_f and lm_head (this case supplies a "
                  "correct cached_attention)",
        "block_rows": "each call runs the blocks on its new tokens only"}),
    "generate_cached": Case(_generate_cached, seeds=(0, 1, 2), requires={
        "ids": "the greedy tokens equal uncached greedy decoding (seed 2: with a left-padding "
               "mask, one column of ones appended per new token); (B, T + n_new) ids (this "
               "case supplies a correct cached_forward and cache)",
        "fed": "cached_forward gets the prompt once, then one new token a step (the last one "
               "is never fed)",
        "caches_made": "with cache=None the function makes one KVCache(len(model.blocks)), "
                       "and none when a cache is given",
        "direct_model_calls": "the model is never called on the whole sequence"}),
    "kv_cache_bytes": Case(_kv_cache_bytes, seeds=(0, 1, 2), requires={
        "bytes": "2 (K and V) x layers x KV heads x d_head x length x batch x bytes per value"}),
    "sliding_window": Case(_sliding_window, seeds=(0, 1, 2), requires={
        "kept": "the indices of the last `budget` tokens, sorted (all of them when there are "
                "fewer), as a 1-D torch.long tensor"}),
    "streaming": Case(_streaming, seeds=(0, 1, 2), requires={
        "kept": "the first n_sink indices and the most recent budget - n_sink, sorted (all of "
                "them when there are at most budget)"}),
    "h2o": Case(_h2o, seeds=(0, 1, 2), requires={
        "kept": "the n_recent last tokens and the budget - n_recent older tokens with the "
                "largest attention summed over all steps, sorted (all when at most budget)"}),
    "generate_batched": Case(_generate_batched, seeds=(0, 1, 2), requires={
        "ids": "one list per prompt: the prompt and its n_new new ids, without padding; the "
               "prompts left-padded into one (B, T) tensor with an attention_mask of 0 on the "
               "padding, passed to generate_cached (this case supplies a scripted "
               "generate_cached)"}),
}
