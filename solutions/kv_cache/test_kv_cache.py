"""The KV-cache reference solution (solutions/kv_cache/kv_cache.ipynb) against independent references:
the uncached forward pass, Hugging Face GPT-2 with its own KV cache (weights copied in), naive
eviction loops; and every named mistake against every hidden case."""

from pathlib import Path

import nbformat
import pytest
import torch

from autograde.build.reference import reference_namespace
from course_lib.model import Decoder, TransformerConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ref():
    nb = nbformat.read(ROOT / "solutions" / "kv_cache" / "kv_cache.ipynb", as_version=4)
    ns = reference_namespace(nb)
    given = next(c.source for c in nb.cells if c.cell_type == "code"
                 and "def decode_with_budget" in c.source)          # the notebook's given helper
    exec(compile(given, "<decode_with_budget>", "exec"), ns)
    return ns


def _decoder(seed=0, layers=3, heads=4, d=32, vocab=60, max_len=48):
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=vocab, d_model=d, n_heads=heads, n_layers=layers, d_ff=64,
                            max_len=max_len, dropout=0.0, causal=True)
    model = Decoder(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return model


def test_cached_logits_equal_full_forward_on_pretrained(ref):
    from course_lib.pretrained import load_decoder
    model = load_decoder().eval()                               # on the course device (CUDA too)
    ids = torch.randint(7, model.config.vocab_size, (2, 40), generator=torch.Generator().manual_seed(0))
    ids = ids.to(next(model.parameters()).device)
    with torch.no_grad():
        full = model(input_ids=ids)["logits"]
        cache = ref["KVCache"](len(model.blocks))
        parts = [ref["cached_forward"](model, ids[:, :7], cache)]
        parts += [ref["cached_forward"](model, ids[:, t:t + 1], cache) for t in range(7, 40)]
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-4, rtol=1e-4)
    assert len(cache) == 40 and tuple(cache.k[0].shape) == (2, 4, 40, 16)
    assert cache.nbytes() == ref["kv_cache_bytes"](4, 4, 16, 40, 2, 4)


def test_greedy_cached_equals_uncached(ref):
    model = _decoder(1)
    ids = torch.randint(7, 60, (3, 5))
    torch.testing.assert_close(ref["generate_cached"](model, ids, 20),
                               ref["generate_uncached"](model, ids, 20), rtol=0, atol=0)


def _gpt2_from(model):
    """A transformers GPT-2 holding the same weights as our Decoder (exact-erf GELU)."""
    tr = pytest.importorskip("transformers", reason="transformers is a dev dependency")
    c = model.config
    hf = tr.GPT2LMHeadModel(tr.GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.max_len, n_embd=c.d_model, n_layer=c.n_layers,
        n_head=c.n_heads, n_inner=c.d_ff, activation_function="gelu", resid_pdrop=0.0,
        embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5)).eval()
    with torch.no_grad():
        model.lm_head.bias.zero_()                           # GPT-2's head has no bias
        hf.transformer.wte.weight.copy_(model.embed.tok.weight)
        hf.transformer.wpe.weight.copy_(model.embed.pos.weight)
        for ours, theirs in zip(model.blocks, hf.transformer.h):
            a = ours.attn
            theirs.ln_1.load_state_dict(ours.ln_1.state_dict())
            theirs.ln_2.load_state_dict(ours.ln_2.state_dict())
            theirs.attn.c_attn.weight.copy_(torch.cat([a.W_q.weight, a.W_k.weight,
                                                       a.W_v.weight]).T)   # Conv1D: x @ W
            theirs.attn.c_attn.bias.copy_(torch.cat([a.W_q.bias, a.W_k.bias, a.W_v.bias]))
            theirs.attn.c_proj.weight.copy_(a.W_o.weight.T)
            theirs.attn.c_proj.bias.copy_(a.W_o.bias)
            theirs.mlp.c_fc.weight.copy_(ours.ffn.W_1.weight.T)
            theirs.mlp.c_fc.bias.copy_(ours.ffn.W_1.bias)
            theirs.mlp.c_proj.weight.copy_(ours.ffn.W_2.weight.T)
            theirs.mlp.c_proj.bias.copy_(ours.ffn.W_2.bias)
        hf.transformer.ln_f.load_state_dict(model.ln_f.state_dict())
    return hf


def test_against_transformers_gpt2_cache(ref):
    model = _decoder(2)
    hf = _gpt2_from(model)
    ids = torch.randint(7, 60, (2, 6))
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, model(input_ids=ids)["logits"],
                                   atol=1e-4, rtol=1e-4)      # the weight copy itself is right
        out = hf(ids[:, :4], use_cache=True)
        theirs = [out.logits]
        past = out.past_key_values
        for t in range(4, 6):
            out = hf(ids[:, t:t + 1], past_key_values=past, use_cache=True)
            past = out.past_key_values
            theirs.append(out.logits)
        cache = ref["KVCache"](len(model.blocks))
        ours = [ref["cached_forward"](model, ids[:, :4], cache)]
        ours += [ref["cached_forward"](model, ids[:, t:t + 1], cache) for t in range(4, 6)]
    torch.testing.assert_close(torch.cat(ours, 1), torch.cat(theirs, 1), atol=1e-4, rtol=1e-4)
    for layer in range(len(model.blocks)):
        try:
            k, v = past.layers[layer].keys, past.layers[layer].values
        except AttributeError:                                  # older transformers
            k, v = past[layer]
        torch.testing.assert_close(cache.k[layer], k, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(cache.v[layer], v, atol=1e-5, rtol=1e-4)
    hf_greedy = hf.generate(ids, max_new_tokens=12, do_sample=False, use_cache=True,
                            attention_mask=torch.ones_like(ids), pad_token_id=0)
    assert torch.equal(ref["generate_cached"](model, ids, 12), hf_greedy)


def test_batched_left_padding_equals_one_at_a_time(ref):
    model = _decoder(3)
    g = torch.Generator().manual_seed(3)
    prompts = [torch.randint(7, 60, (n,), generator=g).tolist() for n in (6, 1, 3, 9)]
    batched = ref["generate_batched"](model, prompts, 10)
    for p, got in zip(prompts, batched):
        assert got == ref["generate_uncached"](model, torch.tensor([p]), 10)[0].tolist()


def test_eviction_against_naive_loops(ref):
    g = torch.Generator().manual_seed(0)
    for n, budget in [(30, 8), (8, 8), (5, 9), (100, 17)]:
        window = ref["keep_sliding_window"](n, budget).tolist()
        assert window == [j for j in range(n) if j >= n - budget]
        stream = ref["keep_streaming"](n, budget).tolist()
        assert stream == [j for j in range(n) if j < 4 or j >= n - (budget - 4)] or n <= budget
        assert ref["keep_streaming"](n, budget, n_sink=0).tolist() == window
        a = torch.rand(7, n, generator=g)
        kept = ref["keep_h2o"](a, budget, budget // 2).tolist()
        if n <= budget:
            assert kept == list(range(n))
            continue
        score = [sum(a[s, j].item() for s in range(7)) for j in range(n)]      # naive sum
        recent = list(range(n - budget // 2, n))
        older = sorted(range(n - budget // 2), key=lambda j: -score[j])[:budget - budget // 2]
        assert kept == sorted(older) + recent


def test_decode_with_budget_full_budget_is_exact(ref):
    model = _decoder(4)
    ids = torch.randint(7, 60, (2, 20))
    with torch.no_grad():
        full = model(input_ids=ids)["logits"]
    for policy in ("window", "streaming", "h2o", "h2o_head"):
        for positions in ("cache", "original"):
            logits, kept = ref["decode_with_budget"](model, ids, policy, 20, positions=positions)
            torch.testing.assert_close(logits, full, atol=1e-4, rtol=1e-4)
        logits, kept = ref["decode_with_budget"](model, ids, policy, budget=8)
        assert all(len(k) == min(t + 1, 8) for t, k in enumerate(kept[0]))
        assert all(k[-1] == t for t, k in enumerate(kept[1]))    # the new token is always kept
    torch.testing.assert_close(ref["decode_recomputed"](model, ids, 20), full, atol=1e-4,
                               rtol=1e-4)


def _naive_budget_decode(model, ids, budget, per_head):
    """H2O decoding written with Python lists and the uncached pieces of the model: for every
    layer and head, a list of (text position, k, v, accumulated score); positions = cache slot."""
    import math
    B, T = ids.shape
    L, H, dh = len(model.blocks), model.config.n_heads, model.config.d_head
    slots = [[[[] for _ in range(H)] for _ in range(L)] for _ in range(B)]
    out = torch.zeros(B, T, model.config.vocab_size)
    with torch.no_grad():
        for b in range(B):
            for t in range(T):
                n_cached = len(slots[b][0][0])
                x = model.embed(model.embed.tok(ids[b:b + 1, t:t + 1]),
                                torch.tensor([[n_cached]]))                 # (1, 1, d)
                att_all = []
                for l, block in enumerate(model.blocks):
                    a = block.attn
                    h_in = block.ln_1(x)
                    q = a.split_heads(a.W_q(h_in))[0, :, 0]                 # (H, dh)
                    k = a.split_heads(a.W_k(h_in))[0, :, 0]
                    v = a.split_heads(a.W_v(h_in))[0, :, 0]
                    heads, att_l = [], []
                    for h in range(H):
                        slots[b][l][h].append([t, k[h], v[h], 0.0])
                        keys = torch.stack([s[1] for s in slots[b][l][h]])  # (n, dh)
                        vals = torch.stack([s[2] for s in slots[b][l][h]])
                        w = torch.softmax(keys @ q[h] / math.sqrt(dh), dim=0)
                        heads.append(w @ vals)
                        att_l.append(w)
                    att_all.append(att_l)
                    o = torch.stack(heads)[None, :, None]                   # (1, H, 1, dh)
                    x = x + block.after_attn(a.W_o(a.merge_heads(o)))
                    x = x + block.after_ffn(block.ffn(block.ln_2(x)))
                out[b, t] = model.lm_head(model.ln_f(x))[0, 0]
                for l in range(L):
                    for h in range(H):
                        for s, w in zip(slots[b][l][h], att_all[l][h].tolist()):
                            s[3] += w
                n = len(slots[b][0][0])
                if n > budget:
                    recent = budget // 2
                    summed = [sum(slots[b][l][h][j][3] for l in range(L) for h in range(H))
                              for j in range(n)]          # one set: slots aligned by position
                    for l in range(L):
                        for h in range(H):
                            sl = slots[b][l][h]
                            score = [s[3] for s in sl] if per_head else summed
                            old = sorted(range(n - recent), key=lambda j: -score[j])
                            keep = sorted(old[:budget - recent]) + list(range(n - recent, n))
                            slots[b][l][h] = [sl[j] for j in keep]
    return out


@pytest.mark.parametrize("policy", ["h2o", "h2o_head"])
def test_h2o_decoding_against_a_naive_loop(ref, policy):
    """decode_with_budget's H2O (one set, and per head) against the naive list-based loop."""
    model = _decoder(5, layers=2, heads=2, d=16)
    ids = torch.randint(7, 60, (2, 16), generator=torch.Generator().manual_seed(5))
    logits, _ = ref["decode_with_budget"](model, ids, policy, budget=6, positions="cache")
    naive = _naive_budget_decode(model, ids, 6, per_head=policy == "h2o_head")
    torch.testing.assert_close(logits, naive, atol=1e-4, rtol=1e-4)
