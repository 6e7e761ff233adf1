"""Named mistakes of the KV-cache notebook (grader only): wrong variants of the reference objects.

The names are the mistakes students commonly make with a KV cache. Each is a `variant` of the
reference object its case receives. A wrong function written out here calls the notebook's other
functions by name (generate_cached -> cached_forward -> cached_attention -> KVCache), as a student's
does: it looks them up in this module, where a hidden case's stand-ins (`stand_ins`) replace them
as they replace the student's while it runs. A case names only the mistakes of its own exercise: an
earlier exercise's mistake cannot show in it, because the case supplies a correct stand-in for the
earlier exercise.
"""

import torch

from autograde.spec import Mistake, around, variant
from course_lib.model import causal_mask, scaled_dot_product_attention

# (solution cell, text in the reference, what a student who forgot the position offset wrote)
WRONG_SUBMISSION = ("cached_forward", "torch.arange(past, past + T_new, device=ids.device)",
                    "torch.arange(0, T_new, device=ids.device)")

# The notebook's names the functions below call; each case that runs one of them puts its stand-in
# here while it runs.
KVCache = cached_attention = cached_forward = generate_cached = None


# ------------------------------------------------------------------ the cache
def _cat_wrong_dim(self, layer, k, v):
    if self.k[layer] is None:
        self.k[layer], self.v[layer] = k, v
    else:
        self.k[layer] = torch.cat([self.k[layer], k], dim=1)
        self.v[layer] = torch.cat([self.v[layer], v], dim=1)
    return self.k[layer], self.v[layer]


def _returns_new_only(update, self, layer, k, v):
    update(self, layer, k, v)
    return k, v


def _len_of_heads(self):
    return 0 if self.k[0] is None else self.k[0].size(1)


# ------------------------------------------------------------------ the attention step
def _attention_variant(mask_fn=None, cache_q=False, use_key_mask=True):
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
    return variant("cached_attention", cached_attention)


def _mask_blocks_past(t_new, t_all):       # j <= i: the queries are taken as the first t_new
    return (torch.arange(t_all)[None] <= torch.arange(t_new)[:, None])[None, None]


def _no_mask(t_new, t_all):
    return None


# ------------------------------------------------------------------ the forward pass
def _forward_variant(offset=True, pad_positions=True, pad_mask=True):
    """A whole cached_forward (calling cached_attention by name) with one rule broken."""
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
            x = x + block.after_attn(cached_attention(
                block.attn, block.ln_1(x), cache, i, key_mask))
            x = x + block.after_ffn(block.ffn(block.ln_2(x)))
        return model.lm_head(model.ln_f(x))
    return variant("cached_forward", cached_forward)


# ------------------------------------------------------------------ generation
def _no_temperature(generate, model, ids, n_new, temperature=0.0, generator=None):
    return generate(model, ids, n_new, 1.0 if temperature else 0.0, generator)


def _times_temperature(generate, model, ids, n_new, temperature=0.0, generator=None):
    return generate(model, ids, n_new, 1 / temperature if temperature else 0.0, generator)


def _always_greedy(generate, model, ids, n_new, temperature=0.0, generator=None):
    return generate(model, ids, n_new)


def _generate_variant(feed_last=False, extend_mask=True):
    """A whole generate_cached (calling KVCache and cached_forward by name), one rule broken."""
    def generate_cached(model, ids, n_new, attention_mask=None, cache=None):
        cache = KVCache(len(model.blocks)) if cache is None else cache
        out = [ids]
        with torch.no_grad():
            z = cached_forward(model, ids, cache, attention_mask)[:, -1]
            for step in range(n_new):
                next_id = z.argmax(dim=-1, keepdim=True)
                out.append(next_id)
                if step == n_new - 1 and not feed_last:
                    break
                if attention_mask is not None and extend_mask:
                    attention_mask = torch.cat(
                        [attention_mask, attention_mask.new_ones(ids.size(0), 1)], dim=1)
                z = cached_forward(model, next_id, cache, attention_mask)[:, -1]
        return torch.cat(out, dim=1)
    return variant("generate_cached", generate_cached)


def _batched_variant(left=True, mask=True, strip=True):
    """A whole generate_batched (calling generate_cached by name), one rule broken."""
    def generate_batched(model, prompts, n_new, pad_id=0):
        T = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), T), pad_id, dtype=torch.long)
        m = torch.zeros((len(prompts), T), dtype=torch.long)
        for i, p in enumerate(prompts):
            cols = slice(T - len(p), T) if left else slice(0, len(p))
            ids[i, cols] = torch.tensor(p)
            m[i, cols] = 1
        out = generate_cached(model, ids, n_new, attention_mask=m if mask else None)
        start = [(T - len(p) if left else 0) if strip else 0 for p in prompts]
        return [out[i, start[i]:].tolist() if left or not strip else
                out[i, :len(p)].tolist() + out[i, T:].tolist() for i, p in enumerate(prompts)]
    return variant("generate_batched", generate_batched)


# seen_by_checks=False: the visible checks do not test that rule (padding, key masks, the recent
# window); only the hidden case tells the mistake apart. A cache concatenated on the heads fails
# check_kv_cache with a CheckFailed naming the student's call (course_lib.checks.visible_check).
MISTAKES = {
    "generate_uncached": [
        Mistake("temperature ignored", "divide the logits by the temperature before the softmax",
                variant("generate_uncached", around(_no_temperature))),
        Mistake("logits multiplied by the temperature", "sample from softmax(z / T): divide the "
                "logits by the temperature, do not multiply",
                variant("generate_uncached", around(_times_temperature))),
        Mistake("always greedy", "with a temperature > 0, sample with torch.multinomial",
                variant("generate_uncached", around(_always_greedy)))],
    "kv_cache": [
        Mistake("concatenating on the wrong dim", "append along the sequence dim (dim 2) of "
                "(B, H, T, d_head), not the heads", variant("KVCache", update=_cat_wrong_dim)),
        Mistake("update returns the new chunk only", "update() returns the layer's whole cache "
                "(old positions, then new), not only this step's k and v",
                variant("KVCache", update=around(_returns_new_only))),
        Mistake("length counts heads", "len(cache) is the size of the sequence dim (dim 2)",
                variant("KVCache", __len__=_len_of_heads))],
    "cached_attention": [
        Mistake("caching Q", "cache K and V only: a step needs the query of the new token only, "
                "so the output has one row per new token", _attention_variant(cache_q=True)),
        Mistake("a causal mask that blocks the past", "the new queries are the last T_new "
                "positions: use causal_mask(T_new, T_all), so one new query sees every cached "
                "key", _attention_variant(mask_fn=_mask_blocks_past)),
        Mistake("no causal mask in the prefill", "a multi-token prefill must stay causal",
                _attention_variant(mask_fn=_no_mask)),
        Mistake("key mask ignored", "with a key_mask, hide the padded keys (False) from every "
                "query, except each query's own key", _attention_variant(use_key_mask=False),
                seen_by_checks=False)],
    "cached_forward": [
        Mistake("positions not offset", "the new tokens' positions start at the cache length, "
                "not at 0", _forward_variant(offset=False)),
        Mistake("positions ignore padding", "with an attention_mask, positions count real "
                "tokens only: (attention_mask.cumsum(-1) - 1).clamp(min=0), last T_new columns",
                _forward_variant(pad_positions=False), seen_by_checks=False),
        Mistake("padding not masked", "pass the attention_mask on to cached_attention as "
                "key_mask", _forward_variant(pad_mask=False), seen_by_checks=False)],
    "generate_cached": [
        Mistake("last token fed", "the last new token is returned, never fed: the cache ends "
                "one position short of the output", _generate_variant(feed_last=True)),
        Mistake("mask not extended", "append a column of ones to the attention_mask for each "
                "new token", _generate_variant(extend_mask=False), seen_by_checks=False)],
    "kv_cache_bytes": [
        Mistake("no factor 2", "the cache holds K and V: a factor 2",
                variant("kv_cache_bytes", lambda L, H, dh, T, B, b: L * H * dh * T * B * b)),
        Mistake("batch missing", "every sequence of the batch has its own cache",
                variant("kv_cache_bytes", lambda L, H, dh, T, B, b: 2 * L * H * dh * T * b))],
    "sliding_window": [
        Mistake("window at the start", "keep the most recent tokens, not the first",
                variant("keep_sliding_window", lambda n, budget: torch.arange(min(n, budget))))],
    "streaming": [
        Mistake("no sinks", "StreamingLLM keeps the first n_sink tokens (attention sinks) plus "
                "the recent window", variant("keep_streaming", lambda n, budget, n_sink=4:
                                             torch.arange(max(0, n - budget), n)))],
    "h2o": [
        Mistake("H2O scores not accumulated", "sum the attention over all steps, not only the "
                "last one", variant("keep_h2o", around(
                    lambda keep_h2o, attention, budget, n_recent:
                    keep_h2o(attention[-1:], budget, n_recent)))),
        Mistake("no recent window", "always keep the n_recent most recent tokens",
                variant("keep_h2o", around(lambda keep_h2o, attention, budget, n_recent:
                                           keep_h2o(attention, budget, 0))), seen_by_checks=False)],
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
