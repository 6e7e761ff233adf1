"""Visible checks for the prompt-tuning notebook (notebooks/prompt_tuning/prompt_tuning.ipynb). Properties only.

Interfaces the notebook asks for:
    SoftPrompt(embedding, n, init="random"|"vocab"|"text", init_ids=None): .n, .P (n, d),
        .prompt() -> (n, d), forward(inputs_embeds (B, T, d), attention_mask (B, T))
        -> ([P ; E(x)] (B, n + T, d), mask (B, n + T))
    SoftPromptMLM(encoder, soft_prompt, label_ids)(input_ids, attention_mask) -> scores (B, C)
    PTuningPrompt(embedding, n, hidden, init, init_ids): SoftPrompt whose prompt() is mlp(P)
    PrefixEncoder(n, n_layers, d_model, n_heads, projection=False, hidden=64)(batch_size)
        -> tuple of n_layers tensors (2, B, H, n, d_head)
    prefix_hook(P_k, P_v) -> hook(k, v, attn_mask) -> (k, v, attn_mask)
    PrefixTuningMLM(encoder, prefix_encoder, label_ids)(input_ids, attention_mask) -> (B, C)
"""

from __future__ import annotations

import torch
import torch.nn as nn

from . import CheckFailed, call, expect, expect_close, expect_shape, ok, tiny_model

MASK_ID = 4            # [MASK] in course_lib.tokenizer.SPECIAL_TOKENS
CLS_ID = 2


_call = call


def _embedding(V=20, d=8, seed=0):
    torch.manual_seed(seed)
    emb = nn.Embedding(V, d)
    emb.weight.requires_grad = False                   # the model's frozen embedding
    return emb


def _trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _tiny_encoder(seed=0, n_layers=2):
    return tiny_model(seed, vocab_size=30, n_layers=n_layers, max_len=24)


def _batch():
    """Two rows with the [MASK] at different places; the second is padded."""
    ids = torch.tensor([[CLS_ID, 11, 12, 13, MASK_ID, 14, 15],
                        [CLS_ID, 16, MASK_ID, 17, 0, 0, 0]])
    mask = (ids != 0).long()
    return ids, mask


# ------------------------------------------------------------------------------ soft prompt
def check_soft_prompt(SoftPrompt) -> None:
    n, d = 3, 8
    emb = _embedding(d=d)
    E = emb.weight.detach().clone()
    sp = _call("SoftPrompt(embedding, n=3)", SoftPrompt, emb, 3)
    expect(isinstance(getattr(sp, "P", None), nn.Parameter),
           "`self.P` should be an nn.Parameter so the optimizer trains it")
    expect_shape(sp.P, (n, d), "P (n x d)")
    expect(getattr(sp, "n", None) == n, "store the number of virtual tokens as `self.n`")
    expect(_trainable(sp) == n * d,
           f"{_trainable(sp)} trainable parameters, expected n*d = {n * d}: do not keep the "
           f"model's embedding as a submodule of the prompt (only P trains)")
    expect(torch.count_nonzero(sp.P) > 0, "init='random' should draw P at random, not zeros")
    ok("P is an (n, d) parameter and the only trainable weight")

    sp = _call("SoftPrompt(embedding, n=5, init='vocab')", SoftPrompt, emb, 5, "vocab")
    expect_shape(sp.P, (5, d), "P with init='vocab'")
    rows_found = ((sp.P.detach()[:, None, :] - E[None]).abs().amax(-1) < 1e-6).any(-1)
    expect(bool(rows_found.all()), "with init='vocab' each row of P should be a row of the "
                                   "embedding matrix (the embedding of a random token id)")
    with torch.no_grad():
        sp.P.add_(1.0)
    expect(torch.equal(emb.weight, E), "changing P changed the model's embedding: copy the rows "
                                       "(.clone()) instead of sharing their storage")
    ok("init='vocab' copies rows of the embedding matrix")

    sp = _call("SoftPrompt(embedding, n=5, init='text', init_ids=[5, 7])", SoftPrompt, emb, 5,
               "text", [5, 7])
    expect_close(sp.P.detach(), E[[5, 7, 5, 7, 5]], "P with init='text', init_ids=[5, 7], n=5",
                 hint="repeat the text's token embeddings until there are n, then cut to n")
    sp = _call("SoftPrompt(embedding, n=2, init='text', init_ids=[5, 7, 9])", SoftPrompt, emb, 2,
               "text", [5, 7, 9])
    expect_close(sp.P.detach(), E[[5, 7]], "P with init='text', init_ids=[5, 7, 9], n=2",
                 hint="a text longer than n is cut to its first n tokens")
    ok("init='text' repeats the text's embeddings, cut to n")

    sp = SoftPrompt(emb, n)
    torch.manual_seed(1)
    x = torch.randn(2, 4, d)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    out = _call("soft_prompt(inputs_embeds, attention_mask)", sp, x, mask)
    expect(isinstance(out, (tuple, list)) and len(out) == 2,
           "forward should return two things: (inputs_embeds with the prompt, attention mask)")
    xp, mp = out
    expect_shape(xp, (2, n + 4, d), "the embeddings with the prompt (B, n + T, d)")
    expect_shape(mp, (2, n + 4), "the extended attention mask (B, n + T): mask not extended?")
    if torch.allclose(xp[:, 0], x[:, 0]) and torch.allclose(xp[:, 1:1 + n], sp.P.detach()[None]
                                                           .expand(2, -1, -1)):
        raise CheckFailed("the prompt was inserted after [CLS]; like peft, prepend it before "
                          "[CLS]: [P ; E(x)]")
    expect_close(xp[:, :n], sp.P.detach()[None].expand(2, -1, -1), "the first n positions",
                 hint="the first n positions of every row should be P")
    expect_close(xp[:, n:], x, "the positions after the prompt",
                 hint="after the prompt come the token embeddings E(x), unchanged")
    ok("[P ; E(x)]: the prompt comes first, in every row of the batch")
    expect(mp.dtype == mask.dtype, f"the mask's dtype changed from {mask.dtype} to {mp.dtype}")
    expect(bool((mp[:, :n] == 1).all()), "the mask's first n entries should be ones: the prompt "
                                         "must be visible (it is never padding)")
    expect(torch.equal(mp[:, n:], mask), "after the n ones the mask should be the given mask")
    ok("the attention mask gains n ones in front")
    (xp ** 2).sum().backward()
    expect(sp.P.grad is not None and sp.P.grad.abs().sum() > 0,
           "no gradient reaches P: use the parameter itself (no .detach(), no torch.tensor(P))")
    ok("gradients reach P")
    print("All visible SoftPrompt checks passed.")


# ------------------------------------------------------------------------------ soft prompt MLM
def check_soft_prompt_mlm(SoftPromptMLM, SoftPrompt, HardPromptMLM) -> None:
    enc = _tiny_encoder()
    words = [21, 22, 23]                        # the soft prompt starts as these 3 words
    label_ids = [10, 18, 19, 20]
    sp = _call("SoftPrompt(encoder.embed.tok, 3, 'text', [21, 22, 23])", SoftPrompt,
               enc.embed.tok, 3, "text", words)
    model = _call("SoftPromptMLM(encoder, soft_prompt, label_ids)", SoftPromptMLM, enc, sp,
                  label_ids)
    d = enc.config.d_model
    expect(_trainable(model) == 3 * d,
           f"{_trainable(model)} trainable parameters, expected n*d = {3 * d}: freeze every "
           f"parameter of the encoder (base weights left trainable?)")
    ok("the encoder is frozen; only the prompt's n*d numbers train")

    ids, mask = _batch()
    with torch.no_grad():
        scores = _call("model(input_ids, attention_mask)", model, ids, mask)
    expect_shape(scores, (2, len(label_ids)), "the scores (B, number of labels)")

    # a soft prompt that equals the embeddings of 3 words = those words typed before [CLS]
    hard = HardPromptMLM(enc, label_ids)
    prefix = torch.tensor(words)[None].expand(2, -1)
    with torch.no_grad():
        typed = hard(torch.cat([prefix, ids], 1), torch.cat([torch.ones_like(prefix), mask], 1))
        logits = enc(input_ids=torch.cat([prefix, ids], 1),
                     attention_mask=torch.cat([torch.ones_like(prefix), mask], 1))["logits"]
        unshifted = logits[torch.arange(2), (ids == MASK_ID).long().argmax(-1)][:, label_ids]
        cls_first = torch.cat([ids[:, :1], prefix, ids[:, 1:]], 1)
        after_cls = hard(cls_first, torch.cat([mask[:, :1], torch.ones_like(prefix),
                                               mask[:, 1:]], 1))
    if not torch.allclose(scores, typed, atol=1e-5, rtol=1e-4):
        if torch.allclose(scores, unshifted, atol=1e-5, rtol=1e-4):
            raise CheckFailed("wrong [MASK] index: after prepending n vectors the [MASK] sits "
                              "n positions further right (mask_position(input_ids) + n)")
        if torch.allclose(scores, after_cls, atol=1e-5, rtol=1e-4):
            raise CheckFailed("the prompt was inserted after [CLS]; prepend it before [CLS]")
        expect_close(scores, typed, "scores with a prompt initialised from 3 words vs. the same "
                     "3 words typed in front of [CLS]",
                     hint="run the encoder on inputs_embeds=[P ; E(x)] with the extended mask "
                          "and read the label words' logits at the shifted [MASK]")
    ok("a prompt initialised from words acts exactly like those words typed before [CLS]")

    with torch.no_grad():
        alone = model(ids[1:, :4], mask[1:, :4])
    expect_close(scores[1:], alone, "the padded row vs. the same row without padding",
                 hint="the extended mask must keep the padding masked")
    ok("padding stays masked (the mask was extended, not replaced)")

    model.zero_grad()
    model(ids, mask).sum().backward()
    expect(sp.P.grad is not None and sp.P.grad.abs().sum() > 0, "no gradient reaches P")
    expect(all(p.grad is None for p in enc.parameters()), "gradients reach the encoder's "
                                                           "weights: freeze them")
    ok("gradients reach P and nothing else")
    print("All visible SoftPromptMLM checks passed.")


# ------------------------------------------------------------------------------ P-tuning
def check_p_tuning(PTuningPrompt, SoftPrompt) -> None:
    n, d, h = 4, 8, 16
    emb = _embedding(d=d)
    pt = _call("PTuningPrompt(embedding, n=4, hidden=16)", PTuningPrompt, emb, n, h)
    expect(isinstance(pt, SoftPrompt), "PTuningPrompt should subclass SoftPrompt")
    mlp = getattr(pt, "mlp", None)
    expect(isinstance(mlp, nn.Sequential), "keep the MLP as `self.mlp`, an nn.Sequential")
    kinds = [type(m).__name__ for m in mlp]
    expect(kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear"],
           f"self.mlp is {kinds}; P-tuning's MLP is Linear-ReLU-Linear-ReLU-Linear")
    shapes = [tuple(m.weight.shape) for m in mlp if isinstance(m, nn.Linear)]
    expect(shapes == [(h, d), (h, h), (d, h)], f"the Linear weights have shapes {shapes}, "
           f"expected {[(h, d), (h, h), (d, h)]} (d -> hidden -> hidden -> d)")
    expected = n * d + (d * h + h) + (h * h + h) + (h * d + d)
    expect(_trainable(pt) == expected, f"{_trainable(pt)} trainable parameters, expected "
           f"n*d + the MLP's = {expected}")
    ok("Linear(d, hidden)-ReLU-Linear(hidden, hidden)-ReLU-Linear(hidden, d); P_0 and MLP train")

    P = _call("prompt()", pt.prompt)
    expect_shape(P, (n, d), "prompt()")
    expect(not torch.allclose(P, pt.P), "prompt() returns P_0 unchanged: apply the MLP")
    last = mlp[4]
    with torch.no_grad():
        last.bias.add_(2.0)
        shifted = pt.prompt()
        last.bias.sub_(2.0)
    expect_close(shifted, P + 2.0, "prompt() after adding 2 to the last layer's bias",
                 hint="the prompt should be the MLP's output: its last Linear comes last")
    x = torch.randn(2, 3, d)
    xp, _ = _call("forward", pt, x, torch.ones(2, 3, dtype=torch.long))
    expect_close(xp[:, :n], P.detach()[None].expand(2, -1, -1), "the prepended prompt",
                 hint="forward (inherited) should prepend prompt(), i.e. MLP(P_0), not P_0")
    ok("prompt() = MLP(P_0), and forward prepends it")
    print("All visible P-tuning checks passed.")


# ------------------------------------------------------------------------------ prefix encoder
def _coded(n, width):
    """W[i, c] = 1000 i + c: each entry says which virtual token and which column it came from."""
    return 1000.0 * torch.arange(n)[:, None] + torch.arange(width)[None, :]


def check_prefix_encoder(PrefixEncoder) -> None:
    n, L, d, H = 4, 3, 8, 2
    dh = d // H
    pe = _call("PrefixEncoder(n=4, n_layers=3, d_model=8, n_heads=2)", PrefixEncoder, n, L, d, H)
    expect(isinstance(getattr(pe, "embedding", None), nn.Embedding),
           "keep the prefixes in `self.embedding`, an nn.Embedding (as peft does)")
    expect_shape(pe.embedding.weight, (n, L * 2 * d), "embedding.weight (n, L * 2 * d)")
    expect(_trainable(pe) == L * 2 * n * d, f"{_trainable(pe)} trainable parameters, expected "
           f"L * 2 * n * d = {L * 2 * n * d}")
    ok("one nn.Embedding(n, L * 2 * d): L * 2 * n * d trainable numbers")

    with torch.no_grad():
        pe.embedding.weight.copy_(_coded(n, L * 2 * d))
    out = _call("prefix_encoder(batch_size=2)", pe, 2)
    expect(isinstance(out, (tuple, list)) and len(out) == L,
           f"return one tensor per layer ({L}), e.g. with .split(2) on the first axis")
    for j, P in enumerate(out):
        expect_shape(P, (2, 2, H, n, dh), f"layer {j}'s prefix (2, B, H, n, d_head)")
    got = torch.stack(list(out))                                   # (L, 2, B, H, n, dh)
    token = torch.div(got, 1000, rounding_mode="floor")
    col = got - 1000 * token
    want_token = torch.arange(n).view(1, 1, 1, 1, n, 1).expand_as(got)
    expect(torch.equal(token, want_token.float()),
           "the virtual-token axis is mixed up: position t of a prefix should come from row t "
           "of the embedding")
    j = torch.arange(L).view(L, 1, 1, 1, 1, 1)
    s = torch.arange(2).view(1, 2, 1, 1, 1, 1)
    h = torch.arange(H).view(1, 1, 1, H, 1, 1)
    e = torch.arange(dh).view(1, 1, 1, 1, 1, dh)
    want_col = ((2 * j + s) * H + h) * dh + e                      # view (B, n, 2L, H, d_head)
    if not torch.equal(col, want_col.expand_as(got).float()):
        raise CheckFailed("wrong view/permute (it mixes heads and layers): view the rows as "
                          "(B, n, 2L, H, d_head), permute to (2L, B, H, n, d_head), split(2)")
    ok("peft layout: view (B, n, 2L, H, d_head) -> permute (2L, B, H, n, d_head) -> split(2)")

    pe = _call("PrefixEncoder(..., projection=True, hidden=16)", PrefixEncoder, n, L, d, H,
               True, 16)
    expect_shape(pe.embedding.weight, (n, d), "embedding.weight with projection=True (n, d)")
    tr = getattr(pe, "transform", None)
    expect(isinstance(tr, nn.Sequential) and [type(m).__name__ for m in tr] ==
           ["Linear", "Tanh", "Linear"], "with projection=True, `self.transform` should be "
           "nn.Sequential(Linear(d, hidden), Tanh, Linear(hidden, L * 2 * d))")
    with torch.no_grad():
        tr[2].weight.zero_()
        tr[2].bias.copy_(torch.arange(L * 2 * d).float())
    out = torch.stack(list(pe(1)))
    expect(torch.equal(out, want_col.expand(L, 2, 1, H, n, dh).float()),
           "with projection=True the transform's output should go through the same "
           "view/permute/split")
    pe.zero_grad()
    torch.stack(list(pe(2))).sum().backward()
    expect(pe.embedding.weight.grad is not None, "no gradient reaches the embedding through "
                                                 "the transform")
    ok("projection=True: Embedding(n, d) -> Linear -> tanh -> Linear, same layout")
    print("All visible PrefixEncoder checks passed.")


# ------------------------------------------------------------------------------ prefix tuning
def check_prefix_tuning(prefix_hook, PrefixTuningMLM, PrefixEncoder) -> None:
    torch.manual_seed(0)
    B, H, T, n, dh = 2, 2, 5, 3, 4
    k, v = torch.randn(B, H, T, dh), torch.randn(B, H, T, dh)
    P_k, P_v = torch.randn(B, H, n, dh), torch.randn(B, H, n, dh)
    pad = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool()[:, None, None, :]
    hook = _call("prefix_hook(P_k, P_v)", prefix_hook, P_k, P_v)
    out = _call("hook(k, v, attn_mask)", hook, k, v, pad)
    expect(isinstance(out, (tuple, list)) and len(out) == 3, "the hook returns (k, v, attn_mask)")
    k2, v2, m2 = out
    expect_shape(k2, (B, H, n + T, dh), "the keys [P_k ; K] (B, H, n + T, d_head)")
    expect_shape(v2, (B, H, n + T, dh), "the values [P_v ; V]")
    expect(torch.equal(k2[:, :, :n], P_k) and torch.equal(k2[:, :, n:], k),
           "keys should be [P_k ; K]: the prefix first, along the key axis (dim 2)")
    expect(torch.equal(v2[:, :, :n], P_v) and torch.equal(v2[:, :, n:], v),
           "values should be [P_v ; V]: the prefix first, along the key axis (dim 2)")
    ok("keys and values become [P_k ; K] and [P_v ; V]")
    expect_shape(m2, (B, 1, 1, n + T), "the mask (B, 1, 1, n + T): mask not extended?")
    expect(m2.dtype == torch.bool, f"the mask should stay boolean, got {m2.dtype}")
    expect(bool(m2[..., :n].all()), "the prefix is masked out: its n mask columns must be True")
    expect(torch.equal(m2[..., n:], pad), "after the prefix the mask should be the given mask")
    causal = torch.ones(T, T).tril().bool()[None, None]
    m3 = hook(k, v, causal)[2]
    expect_shape(m3, (1, 1, T, n + T), "a causal (1, 1, T, T) mask extended")
    expect(bool(m3[..., :n].all()) and torch.equal(m3[..., n:], causal),
           "the causal mask must never hide the prefix: prepend n True columns for every query")
    expect(hook(k, v, None)[2] is None, "a mask of None (everyone attends) should stay None")
    ok("the mask gains n True columns (padding and causal masks kept)")

    enc = _tiny_encoder(n_layers=3)
    cfg = enc.config
    label_ids = [10, 18, 19, 20]
    pe = PrefixEncoder(2, cfg.n_layers, cfg.d_model, cfg.n_heads)
    with torch.no_grad():
        pe.embedding.weight.normal_()
    model = _call("PrefixTuningMLM(encoder, prefix_encoder, label_ids)", PrefixTuningMLM, enc, pe,
                  label_ids)
    expected = cfg.n_layers * 2 * 2 * cfg.d_model
    expect(_trainable(model) == expected, f"{_trainable(model)} trainable parameters, expected "
           f"L * 2 * n * d = {expected}: freeze the encoder (base weights left trainable?)")
    ok("the encoder is frozen; only the prefixes train")
    ids, mask = _batch()
    with torch.no_grad():
        scores = _call("model(input_ids, attention_mask)", model, ids, mask)
    expect_shape(scores, (2, len(label_ids)), "the scores (B, number of labels)")
    expect(all(b.attn.kv_hook is None for b in enc.blocks),
           "remove the hooks after the forward (set block.attn.kv_hook = None)")
    with torch.no_grad():
        plain = enc(input_ids=ids, attention_mask=mask)["logits"]
        plain = plain[torch.arange(2), (ids == MASK_ID).long().argmax(-1)][:, label_ids]
    expect(not torch.allclose(scores, plain, atol=1e-4), "the scores equal those of the model "
           "without a prefix: is the hook installed, and is the prefix visible in the mask?")
    d2 = 2 * cfg.d_model
    for j in range(cfg.n_layers):
        with torch.no_grad():
            saved = pe.embedding.weight[:, j * d2:(j + 1) * d2].clone()
            pe.embedding.weight[:, j * d2:(j + 1) * d2].normal_()
            changed = model(ids, mask)
            pe.embedding.weight[:, j * d2:(j + 1) * d2] = saved
        expect(not torch.allclose(changed, scores, atol=1e-6),
               f"changing layer {j}'s prefix does not change the output: P-tuning v2 puts a "
               f"prefix into every layer (prefix only at the input layer? masked out?)")
    ok(f"each of the {cfg.n_layers} layers uses its own prefix")
    with torch.no_grad():
        alone = model(ids[1:, :4], mask[1:, :4])
    expect_close(scores[1:], alone, "the padded row vs. the same row without padding",
                 hint="the extended mask must keep the padding masked")
    ok("padding stays masked")
    model.zero_grad()
    model(ids, mask).sum().backward()
    expect(pe.embedding.weight.grad is not None and pe.embedding.weight.grad.abs().sum() > 0,
           "no gradient reaches the prefix embedding")
    ok("gradients reach the prefixes")
    print("All visible prefix-tuning checks passed.")
