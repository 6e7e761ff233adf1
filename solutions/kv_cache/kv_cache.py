# %% [markdown]
# # Part 4: Inference with a KV cache, and selective KV caches
#
# **Lecture 11, Model Efficiency: inference.** A decoder generates one token at a time. Without a
# cache, every step runs the model over the whole prefix again. You will cache the keys and values
# of every layer, prove that the cache changes nothing but speed, measure the speed-up and the
# memory the cache takes, and then give the cache a fixed budget and see what evicting tokens costs.
#
# | | |
# |---|---|
# | You will write | `generate_uncached`, `KVCache`, `cached_attention`, `cached_forward`, `generate_cached`, `kv_cache_bytes`, `keep_sliding_window`, `keep_streaming`, `keep_h2o`, `generate_batched` (extension) |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 60 minutes of work; run top to bottom, the notebook takes about 25 s on a 2-core laptop CPU (measured; cells that take longer than a few seconds show a progress bar) |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("the single new query cannot see the cached
# tokens"). When your notebook is graded, hidden tests run your code on random inputs and compare
# it with the reference. Do not rename the functions and classes you are asked to write. The
# exercises that build on an earlier one (4, 5 and 8) are checked and graded with a correct
# stand-in for the earlier one that recomputes everything without a cache, so a bug costs points
# in one exercise only; call the earlier function by its name, as each exercise says.

# %% [setup]
import math
import statistics
import time

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_lib import measure, plotting, widgets
from course_lib.checks.kv_cache import (check_cached_attention, check_cached_forward,
                                        check_generate_batched, check_generate_cached,
                                        check_generate_uncached, check_h2o, check_kv_cache,
                                        check_kv_cache_bytes, check_sliding_window,
                                        check_streaming)
from course_lib.datasets import load_corpus
from course_lib.model import causal_mask, scaled_dot_product_attention
from course_lib.datasets import pack_blocks
from course_lib.pretrained import load_decoder, load_tokenizer
from course_lib.runtime import set_seed, set_threads

# %% [markdown]
# ## 1. LLM inference: one token at a time
#
# A causal language model gives the distribution of the next token given all earlier ones,
# $p(x_t \mid x_1, \dots, x_{t-1})$. Generation repeats three steps: run the model on the tokens
# so far, pick the next token from the last position's logits $z$, append it. **Greedy** decoding
# picks $\arg\max_v z_v$; **sampling** draws from $\text{softmax}(z / T)$ with temperature $T$.
#
# Our pre-trained decoder is tiny (4 layers, $d = 64$, 4 heads, at most 256 positions, validation
# perplexity 2.8 on news-like text after pre-training, as `course_lib/data/pretrain_metrics.json`
# records), so everything runs on a CPU; the arithmetic is a Llama's.
# It was trained on lines of the form `[BOS] text [EOS]`. This notebook keeps it on the CPU even
# where a GPU is available (Colab): at this size a GPU step costs mostly kernel-launch overhead,
# which would hide what the cache saves, and all tensors then live on one device.

# %%
set_threads(1)          # tiny matrices: one thread is faster and steadier than several
set_seed(0)
tok = load_tokenizer()
model = load_decoder(device="cpu").eval()      # the CPU on purpose: see above
cfg = model.config
print(f"decoder: {cfg.n_layers} layers, d = {cfg.d_model}, {cfg.n_heads} heads of d_head = "
      f"{cfg.d_head}, max_len = {cfg.max_len}, {measure.count_parameters(model):,} parameters")


def encode_prompt(text: str) -> torch.Tensor:
    return torch.tensor([[tok.bos_id] + tok.encode(text, add_cls=False)])     # (1, T)


prompt = encode_prompt("The Houston Rockets")
print("prompt ids:", prompt.tolist())

# %% [markdown]
# ### Exercise 1 ({{points}} points): decoding without a cache
#
# Write `generate_uncached(model, ids, n_new, temperature=0.0, generator=None)`. `ids` is a
# `(B, T)` tensor of token ids. Each of the `n_new` steps runs `model(input_ids=ids)["logits"]`
# on the **whole** sequence so far, takes the logits of the last position, and appends one token:
#
# * `temperature == 0`: greedy, `argmax` over the vocabulary;
# * otherwise: `torch.multinomial(torch.softmax(z / temperature, dim=-1), 1, generator=generator)`.
#
# Return the `(B, T + n_new)` ids. Use `with torch.no_grad():` inside (no gradients at inference).

# %% [solution] id=generate_uncached
def generate_uncached(model, ids, n_new, temperature=0.0, generator=None):
    """ids (B, T) -> (B, T + n_new); every step recomputes the whole prefix."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        for _ in range(n_new):
            z = model(input_ids=ids)["logits"][:, -1]                 # (B, V): last position
            if temperature == 0:
                next_id = z.argmax(dim=-1, keepdim=True)               # (B, 1) greedy
            else:
                p = torch.softmax(z / temperature, dim=-1)             # (B, V) softmax(z / T)
                next_id = torch.multinomial(p, 1, generator=generator)  # (B, 1) sampled
            ids = torch.cat([ids, next_id], dim=1)                     # (B, T + 1)
    return ids
    ### END SOLUTION


# %% [tests] points=1
check_generate_uncached(generate_uncached)

# %% [markdown]
# The lecture's step-by-step picture: each step feeds the whole sequence in and gets one token out.

# %%
ids = prompt
for step in range(5):
    new = generate_uncached(model, ids, 1)
    print(f"step {step + 1}: input {ids.shape[1]:>2} tokens -> next token "
          f"{tok.decode(new[0, -1:])!r:<14} | {tok.decode(new[0])}")
    ids = new
g = torch.Generator().manual_seed(0)
print("\ngreedy :", tok.decode(generate_uncached(model, prompt, 20)[0]))
for T in (0.7, 1.0):
    print(f"T = {T}: ", tok.decode(generate_uncached(model, prompt, 20, T, g)[0]))

# %% [markdown]
# ## 2. The KV cache
#
# At step $t$ the new token $x_t$ needs its own query, and the keys and values of **all** tokens:
#
# $$q_t = W_q x_t,\qquad k_t = W_k x_t,\qquad v_t = W_v x_t,\qquad
#   o_t = \text{softmax}\!\left(\frac{q_t [k_1, \dots, k_t]^\top}{\sqrt{d_{head}}}\right)
#   [v_1, \dots, v_t].$$
#
# $k_1, \dots, k_{t-1}$ and $v_1, \dots, v_{t-1}$ were already computed at earlier steps, and
# they do not change (a causal model never lets an old token see a new one). So keep them: the
# **KV cache** stores, for every layer, $K$ and $V$ of shape `(B, H, T, d_head)`. A step then
# computes $q, k, v$ for the new token only, appends $k, v$ to the cache, and attends with one
# query over the whole cache. Old queries are never needed again: **cache K and V, never Q.**
#
# ### Exercise 2 ({{points}} points): `KVCache`
#
# `KVCache(n_layers)` holds the lists `self.k` and `self.v` (one entry per layer, `None` while
# empty). Write
#
# * `update(layer, k, v)`: append this step's `k`, `v` (each `(B, H, T_new, d_head)`) to layer
#   `layer`'s cache **along the sequence dimension** (dim 2) and return the full `(K, V)`;
# * `__len__()`: the number of cached positions (0 when empty).
#
# `nbytes()` (used in Section 3) is given.

# %% [solution] id=kv_cache
class KVCache:
    """Per layer, K and V of every cached token, each (B, H, T, d_head)."""

    def __init__(self, n_layers: int):
        self.k = [None] * n_layers
        self.v = [None] * n_layers

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        ### BEGIN SOLUTION
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k, v                           # (B, H, T_new, d_head)
        else:
            self.k[layer] = torch.cat([self.k[layer], k], dim=2)          # (B, H, T + T_new, d_head)
            self.v[layer] = torch.cat([self.v[layer], v], dim=2)          # (B, H, T + T_new, d_head)
        return self.k[layer], self.v[layer]
        ### END SOLUTION

    def __len__(self) -> int:
        ### BEGIN SOLUTION
        return 0 if self.k[0] is None else self.k[0].size(2)
        ### END SOLUTION

    def nbytes(self) -> int:
        """Bytes the cache holds: every K and V tensor of every layer."""
        return sum(t.numel() * t.element_size() for t in self.k + self.v if t is not None)


# %% [tests] points=2
check_kv_cache(KVCache)

# %% [markdown]
# ### Exercise 3 ({{points}} points): the cached attention step of one block
#
# Write `cached_attention(attn, x, cache, layer, key_mask=None)` for a course_lib `Attention`
# module `attn` (it has `W_q`, `W_k`, `W_v`, `W_o`, `split_heads`, `merge_heads`, `head_gate`).
# `x` is `(B, T_new, d)`: the new tokens only (already layer-normed). Then:
#
# 1. $q, k, v$ of the new tokens, split into heads: `(B, H, T_new, d_head)`;
# 2. `K, V = cache.update(layer, k, v)`: `(B, H, T_past + T_new, d_head)`;
# 3. the mask `causal_mask(T_new, T_past + T_new)`: the new queries are the *last* `T_new`
#    positions, so one new query sees every cached key, and a multi-token prefill stays causal;
#    if `key_mask` (`(B, T_past + T_new)`, True = a real token, False = padding) is given, also
#    hide padded keys, but let every query see its own key (so a padding query's row is never
#    empty);
# 4. `out, weights = scaled_dot_product_attention(q, K, V, mask)`; if `attn.keep_attention`, store
#    `attn.last_attention = weights` (Section 4 reads it); multiply each head by
#    `attn.head_gate.view(1, -1, 1, 1)`, merge the heads and apply `W_o`. Return `(B, T_new, d)`.

# %% [solution] id=cached_attention
def cached_attention(attn, x, cache, layer, key_mask=None):
    """Attention of the new tokens x (B, T_new, d) over the cached and new keys and values."""
    ### BEGIN SOLUTION
    q = attn.split_heads(attn.W_q(x))                     # (B, H, T_new, d_head): new queries only
    k = attn.split_heads(attn.W_k(x))                     # (B, H, T_new, d_head)
    v = attn.split_heads(attn.W_v(x))                     # (B, H, T_new, d_head)
    K, V = cache.update(layer, k, v)                      # (B, H, T_all, d_head)
    t_new, t_all = q.size(2), K.size(2)
    mask = causal_mask(t_new, t_all, device=x.device)[None, None]        # (1, 1, T_new, T_all)
    if key_mask is not None:
        own = torch.arange(t_all, device=x.device)[None] == (
            torch.arange(t_new, device=x.device)[:, None] + t_all - t_new)  # (T_new, T_all)
        mask = (mask & key_mask.bool()[:, None, None, :]) | own[None, None]  # (B, 1, T_new, T_all)
    out, weights = scaled_dot_product_attention(q, K, V, mask)           # (B, H, T_new, d_head)
    if attn.keep_attention:
        attn.last_attention = weights.detach()                           # (B, H, T_new, T_all)
    out = attn.dropout(out) * attn.head_gate.view(1, -1, 1, 1)
    return attn.W_o(attn.merge_heads(out))                                # (B, T_new, d)
    ### END SOLUTION


# %% [tests] points=3
check_cached_attention(cached_attention)

# %% [markdown]
# ### Exercise 4 ({{points}} points): a cached forward pass
#
# Write `cached_forward(model, ids, cache, attention_mask=None, position_ids=None)`: run the
# decoder on the **new** tokens `ids` `(B, T_new)` with the cache, and return the logits
# `(B, T_new, V)`. The model is pre-LN (see `course_lib.model.Block`):
#
# $$x \leftarrow x + \text{after\_attn}(\text{Attn}(\text{LN}_1(x))),\qquad
#   x \leftarrow x + \text{after\_ffn}(\text{FFN}(\text{LN}_2(x))),$$
#
# then `model.ln_f` and `model.lm_head`. The input is `model.embed(model.embed.tok(ids),
# position_ids)`, and the positions of the new tokens are **offset by the cache length**:
# `past, ..., past + T_new - 1` with `past = len(cache)` (read it before the first layer appends).
# With left padding (Section 5), `attention_mask` `(B, T_past + T_new)` marks real tokens with 1,
# positions count real tokens only, `(attention_mask.cumsum(-1) - 1).clamp(min=0)`, keep the last
# `T_new` columns; pass it on to `cached_attention` as `key_mask`. If `position_ids` is given,
# use it as is.

# %% [solution] id=cached_forward
def cached_forward(model, ids, cache, attention_mask=None, position_ids=None):
    """ids (B, T_new) -> logits (B, T_new, V); appends T_new positions to the cache."""
    ### BEGIN SOLUTION
    B, T_new = ids.shape
    past = len(cache)
    if position_ids is None and attention_mask is None:
        position_ids = torch.arange(past, past + T_new, device=ids.device)[None].expand(B, T_new)
    elif position_ids is None:
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -T_new:]  # (B, T_new)
    key_mask = None if attention_mask is None else attention_mask.bool()
    x = model.embed(model.embed.tok(ids), position_ids)                 # (B, T_new, d)
    for i, block in enumerate(model.blocks):
        x = x + block.after_attn(cached_attention(block.attn, block.ln_1(x), cache, i, key_mask))
        x = x + block.after_ffn(block.ffn(block.ln_2(x)))               # (B, T_new, d)
    return model.lm_head(model.ln_f(x))                                 # (B, T_new, V)
    ### END SOLUTION


# %% [tests] points=3
check_cached_forward(cached_forward)

# %% [markdown]
# ### Exercise 5 ({{points}} points): generation with the cache
#
# Write `generate_cached(model, ids, n_new, attention_mask=None, cache=None)`: greedy decoding
# that **prefills** the cache once with the whole prompt (`cached_forward` on `ids`), then feeds
# **one token a step**. Create a `KVCache(len(model.blocks))` if `cache` is None (passing your own
# lets you look at it afterwards). With an `attention_mask`, append a column of ones for each new
# token. Return the `(B, T + n_new)` ids; it must never call `model(...)` on the whole prefix.

# %% [solution] id=generate_cached
def generate_cached(model, ids, n_new, attention_mask=None, cache=None):
    """Greedy: prefill once, then one token a step. ids (B, T) -> (B, T + n_new)."""
    ### BEGIN SOLUTION
    cache = KVCache(len(model.blocks)) if cache is None else cache
    out = [ids]
    with torch.no_grad():
        z = cached_forward(model, ids, cache, attention_mask)[:, -1]      # (B, V): prefill
        for step in range(n_new):
            next_id = z.argmax(dim=-1, keepdim=True)                       # (B, 1)
            out.append(next_id)
            if step == n_new - 1:
                break
            if attention_mask is not None:
                attention_mask = torch.cat(
                    [attention_mask, attention_mask.new_ones(ids.size(0), 1)], dim=1)
            z = cached_forward(model, next_id, cache, attention_mask)[:, -1]  # (B, V)
    return torch.cat(out, dim=1)                                            # (B, T + n_new)
    ### END SOLUTION


# %% [tests] points=2
check_generate_cached(generate_cached)

# %% [markdown]
# The cache changes nothing but speed. On the pre-trained decoder: logits step by step against
# one full forward pass, and the greedy tokens with and without the cache.

# %%
with torch.no_grad():
    text = encode_prompt("Bitcoin hit a new all-time high this week as traders")
    full = model(input_ids=text)["logits"]                                  # (1, T, V)
    cache = KVCache(len(model.blocks))
    steps = [cached_forward(model, text[:, :4], cache)]                       # prefill 4 tokens
    steps += [cached_forward(model, text[:, t:t + 1], cache) for t in range(4, text.size(1))]
    stepwise = torch.cat(steps, dim=1)                                        # (1, T, V)
max_diff = (stepwise - full).abs().max().item()
print(f"max |cached - uncached logits| = {max_diff:.1e} over {text.size(1)} positions")
a, b = generate_uncached(model, prompt, 40), generate_cached(model, prompt, 40)
greedy_same = torch.equal(a, b)
print(f"greedy tokens identical: {greedy_same}\n  {tok.decode(b[0])}")

# %% [markdown]
# **The cache, step by step.** The prompt is prefilled in one call, then one token a step. Each
# row is the cache of one layer after a call (every layer holds the same positions): the new
# positions in orange, and on the right the shape of that layer's $K$ ($V$ has the same). A step
# adds one column; the query of the new token is used once and never stored.

# %%
growth, cache, ids = [], KVCache(len(model.blocks)), prompt
with torch.no_grad():
    z = cached_forward(model, ids, cache)[:, -1]                              # prefill
    growth.append((ids.size(1), tuple(cache.k[0].shape)))
    for _ in range(5):
        next_id = z.argmax(-1, keepdim=True)                                  # (1, 1)
        ids = torch.cat([ids, next_id], dim=1)
        z = cached_forward(model, next_id, cache)[:, -1]                      # one new token
        growth.append((1, tuple(cache.k[0].shape)))
fig = plotting.kv_cache_growth([tok.vocab[i] for i in ids[0].tolist()], growth)

# %% [markdown]
# ## 3. What the cache buys, and what it costs
#
# Without the cache, step $t$ runs all $t$ tokens through every layer: the work per token grows
# with the length, and a whole generation costs $O(n^2)$ token-passes. With the cache, step $t$
# runs **one** token through the layers (its attention still reads $t$ cached keys, a much
# smaller cost here). We time every step of one greedy generation up to the model's 256
# positions, with and without the cache, from the same prompt in the same run.

# %% [skip-grading]
def timed_generation(use_cache: bool, prompt_ids, total: int):
    """Wall-clock seconds of each decoding step, indexed by the sequence length before the step."""
    times, ids = {}, prompt_ids
    cache = KVCache(len(model.blocks))
    with torch.no_grad():
        z = cached_forward(model, ids, cache)[:, -1] if use_cache else None
        while ids.size(1) < total:
            start = time.perf_counter()
            if use_cache:
                next_id = z.argmax(-1, keepdim=True)                            # (1, 1)
                z = cached_forward(model, next_id, cache)[:, -1]               # one new token
            else:
                next_id = model(input_ids=ids)["logits"][:, -1].argmax(-1, keepdim=True)
            times[ids.size(1)] = time.perf_counter() - start
            ids = torch.cat([ids, next_id], dim=1)
    return times, cache


LENGTHS = [32, 64, 128, 255]
t_plain, _ = timed_generation(False, prompt, cfg.max_len)
t_cached, big_cache = timed_generation(True, prompt, cfg.max_len)


def per_token(times, n, window=8):   # fastest step near length n: the least disturbed by
    return min(v for k, v in times.items() if abs(k - n) < window)   # other processes


rows = []
for n in LENGTHS:
    a, b = per_token(t_plain, n), per_token(t_cached, n)
    tps_a = sum(1 for k in t_plain if k < n) / sum(v for k, v in t_plain.items() if k < n)
    tps_b = sum(1 for k in t_cached if k < n) / sum(v for k, v in t_cached.items() if k < n)
    rows.append((n, f"{a * 1e3:.2f}", f"{b * 1e3:.2f}", f"{a / b:.1f}x",
                 f"{tps_a:.0f}", f"{tps_b:.0f}"))
plotting.show_table(["length", "ms/token, no cache", "ms/token, KV cache", "speed-up",
                     "tokens/s to here, no cache", "tokens/s, KV cache"], rows,
                    title="Greedy decoding, batch 1, one CPU thread (one run)")

# %% [skip-grading]
xs = sorted(t_plain)
fig = plotting.line_plot(xs, {"no cache": [1e3 * per_token(t_plain, n, 4) for n in xs],
                              "KV cache": [1e3 * per_token(t_cached, n, 4) for n in xs]},
                         xlabel="sequence length before the step", ylabel="ms per new token",
                         title="Time per generated token", markers=False)

# %% [markdown]
# **Memory.** The cache holds, for every layer, $K$ and $V$ of every head at every position:
#
# $$\text{bytes} = 2 \times \text{layers} \times \text{heads} \times d_{head} \times
#   \text{length} \times \text{batch} \times \text{bytes per value}.$$
#
# (With grouped-query attention, "heads" is the number of key/value heads.)
#
# ### Exercise 6 ({{points}} points): `kv_cache_bytes`
#
# Write `kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, batch, bytes_per_value)`.

# %% [solution] id=kv_cache_bytes
def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, batch, bytes_per_value):
    ### BEGIN SOLUTION
    return 2 * n_layers * n_kv_heads * head_dim * seq_len * batch * bytes_per_value
    ### END SOLUTION


# %% [tests] points=1
check_kv_cache_bytes(kv_cache_bytes)

# %% [markdown]
# The formula against the bytes our cache actually holds, and applied to real models:

# %%
small = KVCache(len(model.blocks))
with torch.no_grad():
    generate_cached(model, prompt, 60, cache=small)
n_cached = len(small)
print(f"our decoder after {n_cached} positions: cache holds {small.nbytes():,} bytes, formula "
      f"{kv_cache_bytes(cfg.n_layers, cfg.n_heads, cfg.d_head, n_cached, 1, 4):,} bytes (fp32)")
MODELS = [("our decoder (fp32)", 4, 4, 16, 4), ("Llama-2-7B (fp16)", 32, 32, 128, 2),
          ("Llama-2-13B (fp16)", 40, 40, 128, 2), ("Llama-2-70B, GQA 8 KV heads (fp16)", 80, 8, 128, 2)]
plotting.show_table(
    ["model", "per token", "4,096 tokens, batch 1", "4,096 tokens, batch 16"],
    [(name, measure.format_bytes(kv_cache_bytes(L, H, dh, 1, 1, b)),
      measure.format_bytes(kv_cache_bytes(L, H, dh, 4096, 1, b)),
      measure.format_bytes(kv_cache_bytes(L, H, dh, 4096, 16, b))) for name, L, H, dh, b in MODELS],
    title="KV cache size = 2 x layers x KV heads x d_head x length x batch x bytes")

# %% [markdown]
# Llama-2-7B's weights take about 13 GiB in fp16; at batch 16 and 4k tokens its cache (32 GiB) is
# bigger than the model. That is why long contexts and large batches run out of memory, and why
# one would like to keep **fewer** tokens in the cache.
#
# ### A cache that does not copy itself
#
# Your `KVCache.update` appends with `torch.cat`. That is correct, but `torch.cat` allocates a
# new tensor one position longer and **copies the whole cache** into it, at every step and in
# every layer: step $t$ copies $t$ positions, a generation of $n$ tokens $O(n^2)$ of them, and the
# allocator hands out and takes back ever larger blocks. Serving libraries **pre-allocate**
# instead: one buffer per layer for the longest sequence allowed, into which each step writes its
# new key and value in place, at position $t$; attention reads the first $t + 1$ positions, a
# view, not a copy (Hugging Face's `StaticCache`; vLLM's PagedAttention allocates fixed-size
# blocks on demand, which also avoids reserving the maximum for every sequence). The price:
# memory for the maximum length is taken up front.
#
# `StaticKVCache` below is such a cache, with your `KVCache`'s interface, so your
# `generate_cached` runs with it unchanged (and must give the same tokens). Then we time a single
# `update` of one Llama-like layer (8 heads of 128 dimensions) at growing cache lengths.

# %%
class StaticKVCache(KVCache):
    """Allocated once for `max_len` positions per layer; update() writes the new positions in
    place and returns views: nothing already cached is copied again."""

    def __init__(self, n_layers: int, max_len: int):
        super().__init__(n_layers)
        self.max_len, self.lengths = max_len, [0] * n_layers

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        if self.k[layer] is None:                                       # the first call allocates
            B, H, _, d_head = k.shape
            self.k[layer] = k.new_zeros(B, H, self.max_len, d_head)     # (B, H, max_len, d_head)
            self.v[layer] = v.new_zeros(B, H, self.max_len, d_head)
        t, n = self.lengths[layer], k.size(2)
        self.k[layer][:, :, t:t + n] = k                                # write in place at t
        self.v[layer][:, :, t:t + n] = v
        self.lengths[layer] = t + n
        return self.k[layer][:, :, :t + n], self.v[layer][:, :, :t + n]  # views, no copy

    def __len__(self) -> int:
        return self.lengths[0]


with torch.no_grad():
    same = torch.equal(generate_cached(model, prompt, 40, cache=KVCache(cfg.n_layers)),
                       generate_cached(model, prompt, 40,
                                       cache=StaticKVCache(cfg.n_layers, cfg.max_len)))
print(f"generate_cached with the pre-allocated cache gives the same tokens: {same}")


def update_time(make_cache, length, heads=8, d_head=128):
    """Seconds of one update() of one layer holding `length` positions (batch 1, fp32)."""
    cache = make_cache(length + 1)
    past = torch.randn(1, heads, length, d_head)
    cache.update(0, past, past)                                         # fill to `length`
    new = torch.randn(1, heads, 1, d_head)
    start = time.perf_counter()
    cache.update(0, new, new)
    return time.perf_counter() - start


CACHE_LENGTHS = [256, 1024, 4096]
kinds = {"torch.cat (KVCache)": lambda n: KVCache(1),
         "pre-allocated (StaticKVCache)": lambda n: StaticKVCache(1, n)}
update_s = {(kind, n): [] for kind in kinds for n in CACHE_LENGTHS}
for _ in tqdm(range(7), desc="timing rounds"):                          # interleaved rounds
    for n in CACHE_LENGTHS:
        for kind, make in kinds.items():
            update_s[kind, n].append(update_time(make, n))
update_ms = {key: 1e3 * statistics.median(v) for key, v in update_s.items()}
plotting.show_table(
    ["cached positions", *(f"{k}: ms per update (median, range)" for k in kinds)],
    [(n, *(f"{update_ms[k, n]:.3f} ({1e3 * min(update_s[k, n]):.3f} to "
           f"{1e3 * max(update_s[k, n]):.3f})" for k in kinds)) for n in CACHE_LENGTHS],
    title="One update of one layer (8 heads x 128), median of 7 interleaved rounds")
fig = plotting.line_plot(CACHE_LENGTHS, {k: [update_ms[k, n] for n in CACHE_LENGTHS]
                                         for k in kinds},
                         xlabel="cached positions", ylabel="ms per update (median)",
                         title="Appending one position to a layer's cache", logx=True, logy=True)

# %% [markdown]
# With `torch.cat` one update at 4,096 cached positions takes at least ten times as long as at
# 256 (it copies the whole cache); the pre-allocated cache's update, which writes one position,
# less than three times as long. <!-- claim: kv_cache.static_flat --> At our decoder's size (4 layers, 256 positions, 4 heads
# of 16) the copies are small next to the model's own work, so the notebook's exercises keep the
# simpler `torch.cat`; the table shows how the copy grows with the length, in every layer.
#

# ## 4. Selective KV cache: a fixed budget
#
# Keep at most `budget` cached tokens; when a new token pushes the cache over it, **evict**. Each
# policy returns the (sorted) indices, into the current cache, of the tokens to keep:
#
# * **Sliding window**: the most recent `budget` tokens.
# * **StreamingLLM** (Xiao et al., 2023): the first `n_sink = 4` tokens plus the most recent
#   `budget - n_sink`. The paper found that large models pour much of their attention on the
#   first tokens whatever they say (*attention sinks*: the softmax must put its mass somewhere,
#   and the first tokens are seen by every later one), so a window that evicts them breaks down.
# * **H2O, heavy hitters** (Zhang et al., 2023): the most recent `n_recent` tokens plus the
#   `budget - n_recent` older tokens with the largest attention **accumulated over all decoding
#   steps so far**, $s_j = \sum_{\text{steps } s} a_{s, j}$. The paper keeps a separate set for
#   each head of each layer.
#
# When the cache holds `budget` tokens or fewer, every policy keeps all of them. The baseline all
# of them are compared with in the StreamingLLM paper is **sliding window with re-computation**:
# at every step, run the model afresh on the last `budget` tokens, with positions $0, 1, \dots$
# inside the window. Its quality is what a window can give, but each step costs a forward pass
# over the whole window instead of one token.
#
# ### Exercise 7 ({{points}} points): eviction policies
#
# Write `keep_sliding_window(n_tokens, budget)`, `keep_streaming(n_tokens, budget, n_sink=4)` and
# `keep_h2o(attention, budget, n_recent)`, each returning a sorted 1-D `torch.long` tensor of
# indices. For H2O, `attention` is `(steps, n_tokens)`: row $s$ is the attention that step $s$'s
# query paid to each cached token (0 where the token did not exist yet).

# %% [solution] id=keep_sliding_window
def keep_sliding_window(n_tokens, budget):
    ### BEGIN SOLUTION
    return torch.arange(max(0, n_tokens - budget), n_tokens)              # the last `budget`
    ### END SOLUTION


# %% [solution] id=keep_streaming
def keep_streaming(n_tokens, budget, n_sink=4):
    ### BEGIN SOLUTION
    if n_tokens <= budget:
        return torch.arange(n_tokens)
    sinks = torch.arange(min(n_sink, budget))                              # attention sinks
    recent = torch.arange(n_tokens - (budget - len(sinks)), n_tokens)      # recent window
    return torch.cat([sinks, recent])
    ### END SOLUTION


# %% [solution] id=keep_h2o
def keep_h2o(attention, budget, n_recent):
    ### BEGIN SOLUTION
    n_tokens = attention.size(-1)
    if n_tokens <= budget:
        return torch.arange(n_tokens)
    score = attention.sum(dim=0)                                           # (n_tokens,) accumulated
    n_old = n_tokens - n_recent
    heavy = score[:n_old].topk(budget - n_recent).indices.sort().values    # heavy hitters
    return torch.cat([heavy, torch.arange(n_old, n_tokens)])
    ### END SOLUTION


# %% [tests] id=test_sliding_window points=1
check_sliding_window(keep_sliding_window)

# %% [tests] id=test_streaming points=1
check_streaming(keep_streaming)

# %% [tests] id=test_h2o points=2
check_h2o(keep_h2o)

# %% [markdown]
# **Decoding with a budget.** `decode_with_budget` (given) runs teacher-forced decoding of a batch
# of texts one token a step with your `cached_forward`, evicting with your policies whenever the
# cache grows over the budget. It implements two choices the papers make:
#
# * **positions.** The StreamingLLM paper gives every token its position *in the cache*, not in
#   the text: with rotary positions a model can re-rotate its cached keys at every step. Our
#   decoder learned absolute positions, added to the input, so only a *new* token could be
#   re-indexed (`positions="cache"`: it gets `len(cache)`); the keys and values already cached
#   keep the positions they were computed with, and fully re-indexing them means recomputing them,
#   which is what the re-computation baseline does. The notebook uses text positions
#   (`positions="original"`, the default) and compares both rules below.
# * **H2O per head** (`"h2o_head"`, the paper's): each head of each layer keeps its own heavy
#   hitters by its own accumulated attention; `"h2o"` keeps one set for the whole model, by the
#   attention summed over layers and heads.

# %%
def decode_with_budget(model, ids, policy, budget, n_sink=4, positions="original"):
    """Teacher-forced decoding of ids (B, T), one token a step, at most `budget` cached tokens.

    policy: "window", "streaming", "h2o" (one kept set, attention summed over layers and
    heads) or "h2o_head" (a kept set per layer and head); H2O keeps n_recent = budget // 2.
    Returns logits (B, T, V) and kept[b][t], the text positions cached after step t (for
    "h2o_head", those of layer 0, head 0)."""
    B, T = ids.shape
    L, H = len(model.blocks), model.config.n_heads
    cache = KVCache(L)
    where = torch.empty(B, L, H, 0, dtype=torch.long)      # text position of each cache slot
    score = torch.zeros(B, L, H, T)                        # attention accumulated per position
    kept, logits = [[] for _ in range(B)], []
    for block in model.blocks:
        block.attn.keep_attention = True
    try:
        with torch.no_grad():
            for t in range(T):
                pos = torch.full((B, 1), len(cache) if positions == "cache" else t)
                logits.append(cached_forward(model, ids[:, t:t + 1], cache, position_ids=pos))
                where = torch.cat([where, torch.full((B, L, H, 1), t)], dim=-1)   # (B, L, H, n)
                att = torch.stack([b.attn.last_attention[:, :, 0] for b in model.blocks], 1)
                score.scatter_add_(-1, where, att)         # s_j += a_{t, j}, at text positions
                n = where.size(-1)
                if n > budget:
                    if policy in ("window", "streaming"):
                        idx = (keep_sliding_window(n, budget) if policy == "window"
                               else keep_streaming(n, budget, n_sink))          # (budget,)
                        idx = idx.expand(B, L, H, -1)
                    else:
                        s = score.gather(-1, where)             # (B, L, H, n) s_j of each slot
                        if policy == "h2o":                     # one set: summed over l and h
                            s = s.sum((1, 2), keepdim=True)     # (B, 1, 1, n)
                        idx = torch.stack([keep_h2o(row[None], budget, budget // 2)  # one row:
                                           for row in s.flatten(0, 2)])        # s_j so far
                        idx = idx.view(*s.shape[:3], budget).expand(B, L, H, budget)
                    for l in range(L):                     # keep those slots in every layer
                        g = idx[:, l, :, :, None].expand(-1, -1, -1, cache.k[l].size(-1))
                        cache.k[l], cache.v[l] = cache.k[l].gather(2, g), cache.v[l].gather(2, g)
                    where = where.gather(-1, idx)
                for b in range(B):
                    kept[b].append(where[b, 0, 0].tolist())
    finally:
        for block in model.blocks:
            block.attn.keep_attention = False
    return torch.cat(logits, dim=1), kept                                   # (B, T, V)


def decode_recomputed(model, ids, window):
    """Sliding window with re-computation: every step runs the model afresh on the last
    `window` tokens (positions 0 .. window - 1); the logits of the newest one."""
    with torch.no_grad():
        return torch.cat([model(input_ids=ids[:, max(0, t + 1 - window):t + 1])["logits"][:, -1:]
                          for t in range(ids.size(1))], dim=1)                # (B, T, V)


# %% [markdown]
# **What eviction costs.** Four held-out blocks of 256 tokens (`lm_valid`, never seen in
# training) are decoded one token a step with each policy and budget. We report the perplexity
# of the next tokens, and how often the greedy next token equals the one the full cache predicts.
# The first `budget` positions are identical for every policy (nothing is evicted yet).

# %% [skip-grading]
held_out = pack_blocks(tok, load_corpus("lm_valid"), cfg.max_len)[:4]         # (4, 256)
BUDGETS = [16, 32, 64, 128]
POLICIES = {"window": "sliding window", "streaming": "StreamingLLM (4 sinks)",
            "h2o": "H2O, one set", "h2o_head": "H2O per head (paper)",
            "recompute": "window + re-computation"}


def quality(logits):
    nll = F.cross_entropy(logits[:, :-1].flatten(0, 1), held_out[:, 1:].flatten())
    agree = (logits.argmax(-1) == full_logits.argmax(-1)).float().mean()
    return math.exp(nll.item()), agree.item()


with torch.no_grad():
    full_logits = model(input_ids=held_out)["logits"]                          # (4, 256, V)
full_ppl, _ = quality(full_logits)
results, kept_by, ms_per_token = {}, {}, {}
for budget in tqdm(BUDGETS, desc="budgets"):
    for policy in POLICIES:
        start = time.perf_counter()
        if policy == "recompute":
            logits, kept = decode_recomputed(model, held_out, budget), None
        else:
            logits, kept = decode_with_budget(model, held_out, policy, budget)
        ms_per_token[policy, budget] = 1e3 * (time.perf_counter() - start) / held_out.size(1)
        results[policy, budget] = quality(logits)
        if kept is not None:
            kept_by[f"{POLICIES[policy]}, budget {budget}"] = kept[0]
    for policy in ("window", "streaming"):                 # the paper's position rule
        logits, _ = decode_with_budget(model, held_out, policy, budget, positions="cache")
        results[policy + " (cache positions)", budget] = quality(logits)
plotting.show_table(
    ["budget"] + [f"{name}: ppl / agreement" for name in POLICIES.values()],
    [(b, *(f"{results[p, b][0]:.2f} / {results[p, b][1]:.1%}" for p in POLICIES))
     for b in BUDGETS] + [("full (256)", *([f"{full_ppl:.2f} / 100%"] * len(POLICIES)))],
    title="Held-out perplexity and greedy-token agreement with the full cache")
plotting.show_table(
    ["budget", "sliding window: text / cache positions",
     "StreamingLLM: text / cache positions", "ms per token: StreamingLLM / re-computation"],
    [(b, f"{results['window', b][0]:.2f} / {results['window (cache positions)', b][0]:.2f}",
      f"{results['streaming', b][0]:.2f} / "
      f"{results['streaming (cache positions)', b][0]:.2f}",
      f"{ms_per_token['streaming', b]:.1f} / {ms_per_token['recompute', b]:.1f}")
     for b in BUDGETS], title="Perplexity by position rule, and the cost of re-computation")

# %% [skip-grading]
import matplotlib.pyplot as plt

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
for i, (p, name) in enumerate(POLICIES.items()):
    ax1.plot(BUDGETS, [results[p, b][0] for b in BUDGETS], label=name, **plotting.style(i))
    ax2.plot(BUDGETS, [100 * results[p, b][1] for b in BUDGETS], label=name, **plotting.style(i))
ax1.axhline(full_ppl, ls="--", label="full cache", **plotting.REFERENCE)
ax2.axhline(100, ls="--", label="full cache", **plotting.REFERENCE)
for ax, title in ((ax1, "Held-out perplexity (lower is better)"),
                  (ax2, "Greedy next token = full cache's (%)")):
    ax.set(xscale="log", xlabel="cache budget (tokens)", title=title)
    ax.set_xticks(BUDGETS, [str(b) for b in BUDGETS])
    ax.minorticks_off()
ax1.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# Read the table from the re-computation baseline: even with 16 tokens it stays near the full
# cache's perplexity. <!-- claim: kv_cache.recompute_near_full -->
# So the next token of our short news lines depends mostly on the last few tokens, and what the
# cached policies lose is not information: it is that their kept keys and values were computed in
# contexts the model no longer sees. With text positions every policy gets better as the budget
# grows (from one budget to the next its perplexity never rises by more than 2%; StreamingLLM
# stays flat from 32 to 64 tokens). <!-- claim: kv_cache.quality_rises_with_budget -->
# Keeping the first four tokens, StreamingLLM, does better than the plain window at every
# budget. <!-- claim: kv_cache.sinks_help -->
# H2O does better than StreamingLLM from 64 tokens up, and worse at 16 and 32.
# <!-- claim: kv_cache.h2o_vs_streaming -->
# H2O per head, as in the paper, and one set for the whole model stay within 10% of each other at
# every budget. <!-- claim: kv_cache.h2o_head_close -->
#
# **Positions.** The StreamingLLM paper's rule, applied to the new token only, does not help
# here: with cache positions StreamingLLM's perplexity is no longer lower at every budget than
# with text positions, and at 32 and 64 tokens it is much higher.
# <!-- claim-not-held: kv_cache.cache_positions_help -->
# The cached keys and values keep the positions they were computed with, so once the cache is
# full every new token gets position `len(cache)`, the budget, while its neighbours sit at older
# positions: a jumble of positions the model never saw in training. With cache positions
# StreamingLLM's perplexity even rises from 16 to 32 tokens. <!-- claim: kv_cache.cache_positions_bump -->
# The jumble is our explanation of it; text positions keep each token's position consistent with
# the keys it meets.
#
# **Sinks.** Our decoder's later queries put only a few percent of their attention on the first
# four tokens of a full cache (the table below): the paper's attention sinks do not form here.
# <!-- claim: kv_cache.no_sinks -->
# Yet keeping those four tokens helps a lot once the tokens between them and the window are gone;
# why exactly, we have not established. The re-computation baseline needs neither sinks nor
# re-indexing, at the price of a forward pass over the whole window at every step: at the largest
# budget it costs more per token than a StreamingLLM step.
# <!-- claim: kv_cache.recompute_costs_more -->

# %% [skip-grading]
for block in model.blocks:
    block.attn.keep_attention = True
with torch.no_grad():
    model(input_ids=held_out)
sink_share = [b.attn.last_attention[:, :, 128:, :4].sum(-1).mean().item() for b in model.blocks]
recent_share = [torch.stack([b.attn.last_attention[:, :, t, t - 15:t + 1].sum(-1)
                             for t in range(128, cfg.max_len)]).mean().item()
                for b in model.blocks]
for block in model.blocks:
    block.attn.keep_attention = False
plotting.show_table(["layer", "attention on the first 4 tokens", "on the last 16 tokens"],
                    [(l, f"{a:.1%}", f"{r:.1%}") for l, (a, r) in
                     enumerate(zip(sink_share, recent_share))],
                    title="Where queries at positions 128-255 look (full cache, mean over heads)")

# %% [markdown]
# Which tokens does each policy keep? Each panel is one policy at budget 32 on the first
# held-out text: a row per decoding step, a column per text position; dark cells are cached
# after that step, light ones evicted. The window is a diagonal band, StreamingLLM adds the four
# first columns, H2O keeps scattered old tokens that drew attention.

# %% [skip-grading]
fig = plotting.kept_positions({name.split(", budget")[0]: kept for name, kept in kept_by.items()
                               if name.endswith("budget 32")}, n_tokens=cfg.max_len)

# %% [markdown]
# The same, token by token: pick a policy and budget, and move through the decoding steps of the
# first held-out text: kept tokens are highlighted, evicted ones struck through.

# %% [skip-grading]
words = [tok.vocab[i] for i in held_out[0].tolist()]
widgets.kept_tokens_viewer(words, kept_by, steps=list(range(20, cfg.max_len, 20)))

# %% [markdown]
# ## 5. Extension: batched generation with left padding
#
# Serving several prompts at once fills the matrix multiplications better. Prompts differ in
# length, so pad them on the **left**: every row's next token is then at the last column. Padding
# must change nothing: pad keys are masked out, and positions count real tokens only (a row's first
# real token has position 0).
#
# ### Exercise 8 ({{points}} points): `generate_batched`
#
# Write `generate_batched(model, prompts, n_new, pad_id=0)`: `prompts` is a list of lists of token
# ids. Left-pad them to one `(B, T)` tensor with its `attention_mask` (0 on padding), call
# `generate_cached` with the mask, and return a list of lists: each prompt followed by its
# `n_new` new tokens, without the padding.

# %% [solution] id=generate_batched
def generate_batched(model, prompts, n_new, pad_id=0):
    ### BEGIN SOLUTION
    T = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), T), pad_id, dtype=torch.long)          # (B, T)
    mask = torch.zeros((len(prompts), T), dtype=torch.long)                # (B, T)
    for i, p in enumerate(prompts):
        ids[i, T - len(p):] = torch.tensor(p)                              # left padding
        mask[i, T - len(p):] = 1
    out = generate_cached(model, ids, n_new, attention_mask=mask)          # (B, T + n_new)
    return [out[i, T - len(p):].tolist() for i, p in enumerate(prompts)]
    ### END SOLUTION


# %% [tests] points=2
check_generate_batched(generate_batched)

# %%
texts = ["The Houston Rockets", "Bitcoin", "Flu cases are rising in several"]
batch = generate_batched(model, [encode_prompt(t)[0].tolist() for t in texts], 12)
for t, ids in zip(texts, batch):
    alone = generate_cached(model, encode_prompt(t), 12)[0].tolist()
    print(f"{'same' if ids == alone else 'DIFFERENT'} as alone | {tok.decode(ids)}")

# %% [markdown]
# ## Summary
#
# * Autoregressive decoding without a cache recomputes every earlier token at every step; the time
#   per token grows with the length, and the cache's speed-up with it.
#   <!-- claim: kv_cache.speedup_grows -->
# * Appending with `torch.cat` copies the whole cache at every step; a pre-allocated cache writes
#   the new position in place (serving libraries do this). <!-- claim: kv_cache.static_flat -->
# * The KV cache stores $K$ and $V$ of every layer (never $Q$); a step computes one query, appends
#   one key and one value, and attends over the cache, with positions offset by the cache length.
#   The logits are those of the uncached model within $10^{-4}$, and the greedy tokens identical.
#   <!-- claim: kv_cache.cache_exact -->
# * The cache costs $2 \cdot \text{layers} \cdot \text{heads} \cdot d_{head} \cdot \text{length}
#   \cdot \text{batch} \cdot \text{bytes}$: 0.5 MiB a token and 2 GiB at 4k tokens for
#   Llama-2-7B in fp16.
# * A selective cache keeps a fixed budget of tokens: a sliding window, the first tokens plus a
#   window (StreamingLLM), or heavy hitters plus a window (H2O). Re-computing the window is the
#   quality reference, at the cost of a forward pass over the window per token. With learned
#   absolute positions, keep the text positions: re-indexing only the new token hurts.
#   <!-- claim: kv_cache.quality_rises_with_budget --> <!-- claim: kv_cache.sinks_help -->
#
# **Check yourself.** (1) Why is Q never cached? (2) During prefill of a 10-token prompt, what
# shape does the attention mask have, and during a later single step with 10 cached tokens?
# (3) Why must the position of a new token be the cache length and not 0? (4) Llama-2-13B
# (40 layers, 40 heads, $d_{head} = 128$, fp16) at 4k tokens, batch 1: how large is the cache?
# (5) Once a budgeted cache is full, `len(cache)` is the budget, not the number of tokens read.
# Which positions can `decode_with_budget` give the new token, and why can it re-index only the
# new token and not the cached ones?
#
# <details><summary>Answers</summary>
#
# (1) A query is used only at its own step: later tokens need the old keys and values, never the
# old queries. (2) (10, 10), lower-triangular; then (1, 11), all True. (3) Learned positions
# would treat every new token as the first one. (4) $2 \cdot 40 \cdot 40 \cdot 128 \cdot 4096
# \cdot 2$ bytes $= 3.125$ GiB. (5) Its position in the text (the number of tokens read, the
# default) or in the cache, `len(cache)` (the StreamingLLM paper's rule). The cached keys and values
# were computed from inputs that already contained their position embeddings, at the first layer;
# changing their positions means recomputing them (with rotary positions one could re-rotate the
# cached keys instead).
#
# </details>
#
# ## Exercises
#
# 1. **Grouped-query attention.** Llama-2-70B has 64 query heads but 8 key/value heads. Change
#    `cached_attention` so that $H_{kv}$ cached heads are shared by groups of $H / H_{kv}$ query
#    heads (repeat $K$, $V$ along the head dimension before the product). How much smaller is the
#    cache, and what does the attention itself still cost?
# 2. **A budget for the re-computation baseline.** At budget $W$, how many token-passes through
#    the model does the re-computation baseline make to generate $n$ tokens, and how many does
#    StreamingLLM make? At which $W$ does the baseline's cost per token equal one uncached step
#    at length $W$?
# 3. **A cache in 8 bits.** Store $K$ and $V$ in int8 with one absmax scale per head and position
#    (the quantization notebook's `absmax_params`). How large is the cache of Llama-2-7B at 4k
#    tokens then, and how would you check that the logits barely change?
# 4. **Sinks by design.** The StreamingLLM paper also pre-trains with a dedicated, learnable sink
#    token at the start of every sequence. Why would that give a model a sink even where no
#    natural one forms, and what would you measure to see it in our decoder?
#
# <details><summary>Answers</summary>
#
# 1. The cache shrinks by $H / H_{kv}$ (8 times for Llama-2-70B: the memory table's last row);
#    the attention product still runs for all 64 query heads, so compute per token barely
#    changes: GQA saves memory and memory bandwidth, not FLOPs.
# 2. Re-computation: each of the $n$ steps runs $\min(t, W)$ tokens, about $nW$ token-passes once
#    the window is full; StreamingLLM: one token-pass a step, $n$ in all (its attention still
#    reads $W$ cached keys). One uncached step at length $W$ runs $W$ tokens, the same as a
#    re-computation step: the baseline costs what an uncached decoder costs at length $W$,
#    forever.
# 3. A quarter of fp32 or half of fp16: 1 GiB instead of 2 GiB, plus one scale per head and
#    position. Compare the logits of the cached forward pass with int8 and fp32 caches on held-out
#    text (their largest difference, and the greedy-token agreement), as Section 2 did.
# 4. The softmax of every query must put its mass somewhere; a token that is always present and
#    always at position 0 is a place the model can learn to dump unneeded attention, so it learns
#    to. Measure the share of attention later queries put on position 0, as in the table of
#    Section 4, and StreamingLLM's perplexity against the budget.
#
# </details>
