"""Hidden cases of the KV-cache notebook (solutions/kv_cache.py): seeded inputs and calls, no answers.

Models are tiny random Decoders built from the seed (weights spread so argmax has no near-ties);
the grader runs the same case on the reference objects and compares the outputs.
"""

import torch

from autograde.hidden import Case
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
    """A prefill of several tokens, then single steps and one 2-token chunk."""
    attn = _attention(seed)
    g = _gen(seed)
    B, prefill, chunks = [(1, 4, [1, 1, 2, 1]), (2, 1, [1, 1, 1]), (2, 6, [2, 1, 1])][seed]
    cache = objects["KVCache"](1)
    outs, shapes = [], []
    with torch.no_grad():
        for n in [prefill] + chunks:
            x = torch.randn(B, n, 16, generator=g)
            outs.append(objects["cached_attention"](attn, x, cache, 0))
            shapes.append(list(cache.k[0].shape))
    return {"outputs": outs, "cache_k_shapes": shapes}


def _cached_forward(objects, seed):
    """Random prompt and chunk lengths; logits of every call and the cache length after it."""
    model = _decoder(seed, layers=2 + seed % 2)
    g = _gen(seed)
    B = 1 + seed % 2
    T = 8 + int(torch.randint(0, 10, (1,), generator=g))
    ids = _ids(g, B, T)
    prefill = 1 + int(torch.randint(0, 5, (1,), generator=g))
    bounds = [0, prefill] + list(range(prefill + 1, T - 2)) + [T]   # ... singles, last chunk of 2+
    cache = objects["KVCache"](len(model.blocks))
    logits, lens, shapes = [], [], []
    with torch.no_grad():
        for a, b in zip(bounds, bounds[1:]):
            logits.append(objects["cached_forward"](model, ids[:, a:b], cache))
            lens.append(len(cache))
            shapes.append(list(cache.k[-1].shape))
    return {"logits": logits, "lens": lens, "last_layer_k_shapes": shapes}


def _generate_cached(objects, seed):
    model = _decoder(seed)
    g = _gen(seed)
    B, T, n = [(1, 2, 12), (2, 6, 9), (3, 3, 20)][seed]
    ids = _ids(g, B, T)
    cache = objects["KVCache"](len(model.blocks))
    out = objects["generate_cached"](model, ids, n, cache=cache)
    return {"ids": out, "cache_len": len(cache)}


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
    model = _decoder(seed, max_len=40)
    g = _gen(seed)
    lengths = [[5, 1, 3], [2, 7], [4, 4, 1, 6]][seed]
    prompts = [_ids(g, 1, n)[0].tolist() for n in lengths]
    return {"ids": objects["generate_batched"](model, prompts, 5 + seed)}


LOGITS = dict(atol=1e-4, rtol=1e-4)
CASES = {
    "generate_uncached": Case(_generate_uncached, seeds=(0, 1, 2), requires={
        "greedy": "greedy decoding appends argmax of the last position's logits, step by step",
        "sampled": "sample with torch.multinomial(softmax(z / T), 1, generator=generator)",
        "hot": "divide the logits by the temperature before the softmax"}),
    "kv_cache": Case(_kv_cache, seeds=(0, 1, 2), requires={
        "len_empty": "an empty cache has length 0",
        "lens": "len(cache) is the number of cached positions (size of dim 2)",
        "K": "update() appends k along the sequence dim (dim 2) and returns the full K",
        "V": "update() appends v along the sequence dim (dim 2) and returns the full V",
        "k_shapes_layer1": "each layer has its own K and V"}),
    "cached_attention": Case(_cached_attention, seeds=(0, 1, 2), **LOGITS, requires={
        "outputs": "one output row per new token: new queries only, over cached + new keys, "
                   "causal_mask(T_new, T_all)",
        "cache_k_shapes": "append this step's k and v to the cache (B, H, T, d_head)"}),
    "cached_forward": Case(_cached_forward, seeds=(0, 1, 2, 3), **LOGITS, requires={
        "logits": "cached logits must equal the uncached forward: positions offset by the cache "
                  "length, pre-LN blocks, ln_f and lm_head",
        "lens": "every call appends its tokens to the cache",
        "last_layer_k_shapes": "every layer appends to its own cache"}),
    "generate_cached": Case(_generate_cached, seeds=(0, 1, 2), **LOGITS, requires={
        "ids": "greedy tokens must equal uncached greedy decoding",
        "cache_len": "prefill the prompt once, then feed each new token except the last"}),
    "kv_cache_bytes": Case(_kv_cache_bytes, seeds=(0, 1, 2), requires={
        "bytes": "2 (K and V) x layers x KV heads x d_head x length x batch x bytes"}),
    "sliding_window": Case(_sliding_window, seeds=(0, 1, 2), requires={
        "kept": "keep the last `budget` tokens (all of them when there are fewer)"}),
    "streaming": Case(_streaming, seeds=(0, 1, 2), requires={
        "kept": "keep the first n_sink tokens and the most recent budget - n_sink"}),
    "h2o": Case(_h2o, seeds=(0, 1, 2), requires={
        "kept": "keep the n_recent last tokens and the older tokens with the largest attention "
                "summed over all steps, sorted"}),
    "generate_batched": Case(_generate_batched, seeds=(0, 1, 2), requires={
        "ids": "left padding must change nothing: mask padded keys, count positions over real "
               "tokens, strip the padding from the result"}),
}
