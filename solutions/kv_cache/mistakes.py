"""Named mistakes of the KV-cache notebook (grader only): wrong variants of the reference objects.

The names are the mistakes students commonly make with a KV cache. The reference functions call each
other through their notebook namespace (generate_cached -> cached_forward -> cached_attention ->
KVCache), so a variant is rebound onto a copy of that namespace in which one piece is replaced.
A wrong function is re-homed into that copy too, so that the names it calls (cached_forward,
KVCache, ...) are looked up there, where a hidden case's stand-ins replace them as they replace the
student's. A case names only the mistakes of its own exercise: an earlier exercise's mistake cannot
show in it, because the case supplies a correct stand-in for the earlier exercise.
"""

import types

import torch

from autograde.spec import Mistake
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


def _rehome(f, ns):
    g = types.FunctionType(f.__code__, ns, f.__name__, f.__defaults__, f.__closure__)
    g.__kwdefaults__ = f.__kwdefaults__
    return g


def _rebind(objects, **wrong):
    """objects (and everything they call by name) with the names in `wrong` replaced."""
    old = _namespace(objects)
    ns = dict(old)
    ns.update(causal_mask=causal_mask, scaled_dot_product_attention=scaled_dot_product_attention,
              torch=torch)
    ns.update({k: _rehome(v, ns) if isinstance(v, types.FunctionType) else v
               for k, v in wrong.items()})
    for name, obj in list(ns.items()):
        if isinstance(obj, types.FunctionType) and obj.__globals__ is old and name not in wrong:
            ns[name] = _rehome(obj, ns)
    return {k: ns[k] if k in ns else v for k, v in objects.items()}


def _ref(objects, name):
    return _namespace(objects)[name]


# ------------------------------------------------------------------ the cache
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


def _returns_new_only(objects):
    base = _ref(objects, "KVCache")

    def update(self, layer, k, v):
        base.update(self, layer, k, v)
        return k, v
    return _rebind(objects, KVCache=type("KVCache", (base,), {"update": update}))


def _len_of_heads(objects):
    base = _ref(objects, "KVCache")
    wrong = type("KVCache", (base,), {"__len__": lambda self: 0 if self.k[0] is None
                                      else self.k[0].size(1)})
    return _rebind(objects, KVCache=wrong)


# ------------------------------------------------------------------ the attention step
def _attention_variant(mask_fn=None, cache_q=False, use_key_mask=True):
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
            if key_mask is not None and mask is not None and use_key_mask:
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
def _forward_variant(offset=True, pad_positions=True, pad_mask=True):
    """A whole cached_forward (calling cached_attention by name) with one rule broken."""
    def make(objects):
        def cached_forward(model, ids, cache, attention_mask=None, position_ids=None):
            B, T_new = ids.shape
            past = len(cache) if offset else 0
            if position_ids is None and (attention_mask is None or not pad_positions):
                position_ids = torch.arange(past, past + T_new)[None].expand(B, T_new)
            elif position_ids is None:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -T_new:]
            key_mask = None if attention_mask is None or not pad_mask else attention_mask.bool()
            x = model.embed(model.embed.tok(ids), position_ids)
            for i, block in enumerate(model.blocks):
                x = x + block.after_attn(cached_attention(  # noqa: F821 (the namespace's)
                    block.attn, block.ln_1(x), cache, i, key_mask))
                x = x + block.after_ffn(block.ffn(block.ln_2(x)))
            return model.lm_head(model.ln_f(x))
        return _rebind(objects, cached_forward=cached_forward)
    return make


# ------------------------------------------------------------------ generation
def _no_temperature(objects):
    ref = objects["generate_uncached"]

    def generate_uncached(model, ids, n_new, temperature=0.0, generator=None):
        return ref(model, ids, n_new, 1.0 if temperature else 0.0, generator)
    return dict(objects, generate_uncached=generate_uncached)


def _times_temperature(objects):
    ref = objects["generate_uncached"]

    def generate_uncached(model, ids, n_new, temperature=0.0, generator=None):
        return ref(model, ids, n_new, 1 / temperature if temperature else 0.0, generator)
    return dict(objects, generate_uncached=generate_uncached)


def _sample_from_logits_argmax(objects):
    ref = objects["generate_uncached"]
    return dict(objects, generate_uncached=lambda model, ids, n_new, temperature=0.0,
                generator=None: ref(model, ids, n_new))


def _generate_variant(feed_last=False, extend_mask=True):
    """A whole generate_cached (calling KVCache and cached_forward by name), one rule broken."""
    def make(objects):
        def generate_cached(model, ids, n_new, attention_mask=None, cache=None):
            cache = KVCache(len(model.blocks)) if cache is None else cache  # noqa: F821
            out = [ids]
            with torch.no_grad():
                z = cached_forward(model, ids, cache, attention_mask)[:, -1]  # noqa: F821
                for step in range(n_new):
                    next_id = z.argmax(dim=-1, keepdim=True)
                    out.append(next_id)
                    if step == n_new - 1 and not feed_last:
                        break
                    if attention_mask is not None and extend_mask:
                        attention_mask = torch.cat(
                            [attention_mask, attention_mask.new_ones(ids.size(0), 1)], dim=1)
                    z = cached_forward(model, next_id, cache, attention_mask)[:, -1]  # noqa: F821
            return torch.cat(out, dim=1)
        return _rebind(objects, generate_cached=generate_cached)
    return make


def _batched_variant(left=True, mask=True, strip=True):
    """A whole generate_batched (calling generate_cached by name), one rule broken."""
    def make(objects):
        def generate_batched(model, prompts, n_new, pad_id=0):
            T = max(len(p) for p in prompts)
            ids = torch.full((len(prompts), T), pad_id, dtype=torch.long)
            m = torch.zeros((len(prompts), T), dtype=torch.long)
            for i, p in enumerate(prompts):
                cols = slice(T - len(p), T) if left else slice(0, len(p))
                ids[i, cols] = torch.tensor(p)
                m[i, cols] = 1
            out = generate_cached(model, ids, n_new,  # noqa: F821
                                  attention_mask=m if mask else None)
            start = [(T - len(p) if left else 0) if strip else 0 for p in prompts]
            return [out[i, start[i]:].tolist() if left or not strip else
                    out[i, :len(p)].tolist() + out[i, T:].tolist() for i, p in enumerate(prompts)]
        return _rebind(objects, generate_batched=generate_batched)
    return make


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


MISTAKES = {
    "generate_uncached": [
        Mistake("temperature ignored", "divide the logits by the temperature before the softmax",
                _no_temperature),
        Mistake("logits multiplied by the temperature", "sample from softmax(z / T): divide the "
                "logits by the temperature, do not multiply", _times_temperature),
        Mistake("always greedy", "with a temperature > 0, sample with torch.multinomial",
                _sample_from_logits_argmax)],
    "kv_cache": [
        Mistake("concatenating on the wrong dim", "append along the sequence dim (dim 2) of "
                "(B, H, T, d_head), not the heads", _cat_wrong_dim),
        Mistake("update returns the new chunk only", "update() returns the layer's whole cache "
                "(old positions, then new), not only this step's k and v", _returns_new_only),
        Mistake("length counts heads", "len(cache) is the size of the sequence dim (dim 2)",
                _len_of_heads)],
    "cached_attention": [
        Mistake("caching Q", "cache K and V only: a step needs the query of the new token only, "
                "so the output has one row per new token", _attention_variant(cache_q=True)),
        Mistake("a causal mask that blocks the past", "the new queries are the last T_new "
                "positions: use causal_mask(T_new, T_all), so one new query sees every cached "
                "key", _attention_variant(mask_fn=_mask_blocks_past)),
        Mistake("no causal mask in the prefill", "a multi-token prefill must stay causal",
                _attention_variant(mask_fn=_no_mask)),
        Mistake("key mask ignored", "with a key_mask, hide the padded keys (False) from every "
                "query, except each query's own key", _attention_variant(use_key_mask=False))],
    "cached_forward": [
        Mistake("positions not offset", "the new tokens' positions start at the cache length, "
                "not at 0", _forward_variant(offset=False)),
        Mistake("positions ignore padding", "with an attention_mask, positions count real "
                "tokens only: (attention_mask.cumsum(-1) - 1).clamp(min=0), last T_new columns",
                _forward_variant(pad_positions=False)),
        Mistake("padding not masked", "pass the attention_mask on to cached_attention as "
                "key_mask", _forward_variant(pad_mask=False))],
    "generate_cached": [
        Mistake("last token fed", "the last new token is returned, never fed: the cache ends "
                "one position short of the output", _generate_variant(feed_last=True)),
        Mistake("mask not extended", "append a column of ones to the attention_mask for each "
                "new token", _generate_variant(extend_mask=False))],
    "kv_cache_bytes": [
        Mistake("no factor 2", "the cache holds K and V: a factor 2", _no_factor_two),
        Mistake("batch missing", "every sequence of the batch has its own cache", _no_batch)],
    "sliding_window": [
        Mistake("window at the start", "keep the most recent tokens, not the first",
                _window_first)],
    "streaming": [
        Mistake("no sinks", "StreamingLLM keeps the first n_sink tokens (attention sinks) plus "
                "the recent window", _no_sinks)],
    "h2o": [
        Mistake("H2O scores not accumulated", "sum the attention over all steps, not only the "
                "last one", _h2o_last_step),
        Mistake("no recent window", "always keep the n_recent most recent tokens",
                _h2o_no_recent)],
    "generate_batched": [
        Mistake("right padding", "pad on the left, so that every row's last column is its last "
                "token", _batched_variant(left=False)),
        Mistake("mask not passed", "pass the attention_mask (0 on the padding) to "
                "generate_cached", _batched_variant(mask=False)),
        Mistake("padding kept", "strip the padding from each returned row",
                _batched_variant(strip=False))],
}

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
# With stand-ins a wrong cached_forward costs only its own cell, and there only the two seeds
# without an attention_mask or position_ids (the wrong line is not used on the other two).
EXPECTED_WRONG = {
    "test_cached_forward": (1.5, "positions start at the cache length"),
}
