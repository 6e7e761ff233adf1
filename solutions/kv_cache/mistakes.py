"""Named mistakes of the KV-cache notebook (grader only): wrong variants of the reference objects.

The names follow shared/REFERENCE.md's list for the KV cache. The reference functions call each
other through their notebook namespace (generate_cached -> cached_forward -> cached_attention ->
KVCache), so a variant rebinds the functions onto a copy of that namespace in which one piece is
replaced: the rest of the reference then uses the wrong piece.
"""

import types

import torch

from autograde.verdict import Mistake
from course_lib.model import causal_mask, scaled_dot_product_attention

# (solution cell, text in the reference, what a student who forgot the position offset wrote)
WRONG_SUBMISSION = ("cached_forward", "torch.arange(past, past + T_new, device=ids.device)",
                    "torch.arange(0, T_new, device=ids.device)")


def _namespace(objects):
    for obj in objects.values():
        if isinstance(obj, types.FunctionType):
            return obj.__globals__
        for attr in vars(obj).values() if isinstance(obj, type) else ():
            if isinstance(attr, types.FunctionType):
                return attr.__globals__
    raise ValueError("no reference function among the objects")


def _rebind(objects, **wrong):
    """objects (and everything they call by name) with the names in `wrong` replaced."""
    old = _namespace(objects)
    ns = dict(old)
    ns.update(wrong)
    for name, obj in list(ns.items()):
        if isinstance(obj, types.FunctionType) and obj.__globals__ is old and name not in wrong:
            f = types.FunctionType(obj.__code__, ns, obj.__name__, obj.__defaults__,
                                   obj.__closure__)
            f.__kwdefaults__ = obj.__kwdefaults__
            ns[name] = f
    return {k: ns[k] if k in ns else v for k, v in objects.items()}


def _ref(objects, name):
    return _namespace(objects)[name]


# ------------------------------------------------------------------ the cache and the attention step
def _cat_wrong_dim(objects):
    base = _ref(objects, "KVCache")

    def update(self, layer, k, v):
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k, v
        else:
            self.k[layer] = torch.cat([self.k[layer], k], dim=1)
            self.v[layer] = torch.cat([self.v[layer], v], dim=1)
        return self.k[layer], self.v[layer]
    return _rebind(objects, KVCache=type("KVCache", (base,), {"update": update}))


def _len_of_heads(objects):
    base = _ref(objects, "KVCache")
    wrong = type("KVCache", (base,), {"__len__": lambda self: 0 if self.k[0] is None
                                      else self.k[0].size(1)})
    return _rebind(objects, KVCache=wrong)


def _attention_variant(mask_fn=None, cache_q=False):
    def make(objects):
        def cached_attention(attn, x, cache, layer, key_mask=None):
            q = attn.split_heads(attn.W_q(x))
            k = attn.split_heads(attn.W_k(x))
            v = attn.split_heads(attn.W_v(x))
            K, V = cache.update(layer, k, v)
            if cache_q:                                   # queries cached like keys: all rows
                prev = getattr(cache, "_q", {}).get(layer)
                q = q if prev is None else torch.cat([prev, q], dim=2)
                cache._q = {**getattr(cache, "_q", {}), layer: q}
            t_new, t_all = q.size(2), K.size(2)
            mask = mask_fn(t_new, t_all) if mask_fn else causal_mask(t_new, t_all)[None, None]
            if key_mask is not None and mask is not None:
                own = torch.arange(t_all)[None] == torch.arange(t_new)[:, None] + t_all - t_new
                mask = (mask & key_mask.bool()[:, None, None, :]) | own[None, None]
            out, weights = scaled_dot_product_attention(q, K, V, mask)
            if attn.keep_attention:
                attn.last_attention = weights.detach()
            out = attn.dropout(out) * attn.head_gate.view(1, -1, 1, 1)
            return attn.W_o(attn.merge_heads(out))
        return _rebind(objects, cached_attention=cached_attention)
    return make


def _mask_blocks_past(t_new, t_all):       # j <= i: the queries are taken as the first t_new
    return (torch.arange(t_all)[None] <= torch.arange(t_new)[:, None])[None, None]


def _no_mask(t_new, t_all):
    return None


# ------------------------------------------------------------------ the forward pass
def _positions_not_offset(objects):
    ref = _ref(objects, "cached_forward")

    def cached_forward(model, ids, cache, attention_mask=None, position_ids=None):
        if position_ids is None and attention_mask is None:
            position_ids = torch.arange(ids.size(1))[None].expand(ids.size(0), -1)
        return ref(model, ids, cache, attention_mask, position_ids)
    return _rebind(objects, cached_forward=cached_forward)


def _positions_ignore_padding(objects):
    ref = _ref(objects, "cached_forward")

    def cached_forward(model, ids, cache, attention_mask=None, position_ids=None):
        if position_ids is None:
            past = len(cache)
            position_ids = torch.arange(past, past + ids.size(1))[None].expand(ids.size(0), -1)
        return ref(model, ids, cache, attention_mask, position_ids)
    return _rebind(objects, cached_forward=cached_forward)


def _padding_not_masked(objects):
    ref = _ref(objects, "cached_forward")

    def cached_forward(model, ids, cache, attention_mask=None, position_ids=None):
        if position_ids is None and attention_mask is not None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -ids.size(1):]
        return ref(model, ids, cache, None, position_ids)
    return _rebind(objects, cached_forward=cached_forward)


# ------------------------------------------------------------------ generation
def _no_temperature(objects):
    ref = objects["generate_uncached"]

    def generate_uncached(model, ids, n_new, temperature=0.0, generator=None):
        return ref(model, ids, n_new, 1.0 if temperature else 0.0, generator)
    return dict(objects, generate_uncached=generate_uncached)


def _sample_from_logits_argmax(objects):
    ref = objects["generate_uncached"]
    return dict(objects, generate_uncached=lambda model, ids, n_new, temperature=0.0,
                generator=None: ref(model, ids, n_new))


def _feeds_last_token(objects):
    ref = objects["generate_cached"]

    def generate_cached(model, ids, n_new, attention_mask=None, cache=None):
        cache = _ref(objects, "KVCache")(len(model.blocks)) if cache is None else cache
        out = ref(model, ids, n_new, attention_mask, cache)
        with torch.no_grad():
            _ref(objects, "cached_forward")(model, out[:, -1:], cache)
        return out
    return dict(objects, generate_cached=generate_cached)


# ------------------------------------------------------------------ memory and eviction
def _no_factor_two(objects):
    return dict(objects, kv_cache_bytes=lambda L, H, dh, T, B, b: L * H * dh * T * B * b)


def _no_batch(objects):
    return dict(objects, kv_cache_bytes=lambda L, H, dh, T, B, b: 2 * L * H * dh * T * b)


def _window_first(objects):
    return dict(objects, keep_sliding_window=lambda n, budget: torch.arange(min(n, budget)))


def _no_sinks(objects):
    return dict(objects, keep_streaming=lambda n, budget, n_sink=4:
                torch.arange(max(0, n - budget), n))


def _h2o_last_step(objects):
    ref = objects["keep_h2o"]
    return dict(objects, keep_h2o=lambda attention, budget, n_recent:
                ref(attention[-1:], budget, n_recent))


def _h2o_no_recent(objects):
    ref = objects["keep_h2o"]
    return dict(objects, keep_h2o=lambda attention, budget, n_recent:
                ref(attention, budget, 0))


CACHE_Q = Mistake("caching Q", "cache K and V only: a step needs the query of the new token "
                  "only, so the output has one row per new token", _attention_variant(cache_q=True))
WRONG_DIM = Mistake("concatenating on the wrong dim", "append along the sequence dim (dim 2) of "
                    "(B, H, T, d_head), not the heads", _cat_wrong_dim)
BLOCKS_PAST = Mistake("a causal mask that blocks the past", "the new queries are the last T_new "
                      "positions: use causal_mask(T_new, T_all), so one new query sees every "
                      "cached key", _attention_variant(mask_fn=_mask_blocks_past))
NO_MASK = Mistake("no causal mask in the prefill", "a multi-token prefill must stay causal",
                  _attention_variant(mask_fn=_no_mask))
NOT_OFFSET = Mistake("positions not offset", "the new tokens' positions start at the cache "
                     "length, not at 0", _positions_not_offset)
MISTAKES = {
    "generate_uncached": [
        Mistake("temperature ignored", "divide the logits by the temperature before the softmax",
                _no_temperature),
        Mistake("always greedy", "with a temperature > 0, sample with torch.multinomial",
                _sample_from_logits_argmax)],
    "kv_cache": [
        WRONG_DIM,
        Mistake("length counts heads", "len(cache) is the size of the sequence dim (dim 2)",
                _len_of_heads)],
    "cached_attention": [CACHE_Q, WRONG_DIM, BLOCKS_PAST, NO_MASK],
    "cached_forward": [NOT_OFFSET, CACHE_Q, WRONG_DIM, BLOCKS_PAST, NO_MASK],
    "generate_cached": [NOT_OFFSET, BLOCKS_PAST,
                        Mistake("last token fed", "the last new token is returned, never fed: "
                                "the cache ends one position short of the output",
                                _feeds_last_token)],
    "kv_cache_bytes": [
        Mistake("no factor 2", "the cache holds K and V: a factor 2", _no_factor_two),
        Mistake("batch missing", "every sequence of the batch has its own cache", _no_batch)],
    "sliding_window": [
        Mistake("window at the start", "keep the most recent tokens, not the first", _window_first)],
    "streaming": [
        Mistake("no sinks", "StreamingLLM keeps the first n_sink tokens (attention sinks) plus "
                "the recent window", _no_sinks)],
    "h2o": [
        Mistake("H2O scores not accumulated", "sum the attention over all steps, not only the "
                "last one", _h2o_last_step),
        Mistake("no recent window", "always keep the n_recent most recent tokens",
                _h2o_no_recent)],
    "generate_batched": [
        Mistake("positions ignore padding", "with left padding, positions count real tokens "
                "only: (attention_mask.cumsum(-1) - 1).clamp(min=0)", _positions_ignore_padding),
        Mistake("padding not masked", "padded keys must be masked out", _padding_not_masked)],
}

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_cached_forward": (0, "positions not offset"),
    "test_generate_cached": (0, "differs from uncached greedy decoding"),
}
