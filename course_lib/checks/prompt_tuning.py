"""Visible checks for the prompt-tuning notebook (notebooks/prompt_tuning/prompt_tuning.ipynb).

Properties only, no reference answer. Interfaces the notebook asks for:
    HardPromptMLM(encoder, mask_id, label_word_ids)(input_ids, attention_mask) -> scores (B, C)
    SoftPrompt(embedding, n, init="random"|"vocab"|"text", init_ids=None): .n, .P (n, d),
        .prompt() -> (n, d), forward(inputs_embeds (B, T, d), attention_mask (B, T))
        -> ([P ; E(x)] (B, n + T, d), mask (B, n + T))
    SoftPromptMLM(encoder, soft_prompt, mask_id, label_word_ids)(input_ids, attention_mask)
    PTuningPrompt(embedding, n, hidden, init, init_ids): SoftPrompt whose prompt() is mlp(P)
    PrefixEncoder(n, n_layers, d_model, n_heads, projection=False, hidden=64)(batch_size)
        -> tuple of n_layers tensors (2, B, H, n, d_head)
    prefix_hook(P_k, P_v) -> hook(k, v, attn_mask) -> (k, v, attn_mask)
    PrefixTuningMLM(encoder, prefix_encoder, mask_id, label_word_ids)(input_ids, attention_mask)
    PrefixTuningLM(decoder, prefix_encoder)(input_ids, attention_mask) -> logits (B, T, V)

A check of one exercise never calls another exercise's code: the classifiers are checked with
stand-in prompts and prefixes (StandInPrompt, StandInPrefix), which are not the exercises'
modules (a stand-in prompt masks one of its own vectors out, a stand-in prefix has no layout).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from . import CheckFailed, call, expect, expect_close, expect_shape, ok, tiny_model, visible_check
from .prompting import label_columns_move, moves_when_hidden_changes

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


def _tiny_encoder(seed=0, n_layers=2, causal=False):
    model = tiny_model(seed, vocab_size=30, n_layers=n_layers, max_len=24, causal=causal)
    with torch.no_grad():
        model.lm_head.bias.normal_(0.0, 0.5)        # a bias the scores must include
    return model


class StandInPrompt(nn.Module):
    """Something shaped like a soft prompt: n fixed vectors in front, the second masked out."""

    def __init__(self, d, n=3, seed=0):
        super().__init__()
        self.n = n
        self.P = nn.Parameter(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)))
        self.visible = torch.ones(n, dtype=torch.long)
        self.visible[1] = 0                           # not what a SoftPrompt does

    def forward(self, inputs_embeds, attention_mask):
        B = inputs_embeds.shape[0]
        mask = torch.cat([self.visible.to(attention_mask)[None].expand(B, -1), attention_mask], 1)
        return torch.cat([self.P[None].expand(B, -1, -1), inputs_embeds], 1), mask


class StandInPrefix(nn.Module):
    """Something shaped like a PrefixEncoder's output: one (2, B, H, n, d_head) per layer, each
    from its own parameter (no embedding, no layout to get wrong)."""

    def __init__(self, n_layers, n_heads, d_head, n=2, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.layers = nn.ParameterList(nn.Parameter(torch.randn(2, 1, n_heads, n, d_head,
                                                                generator=g))
                                       for _ in range(n_layers))

    def forward(self, batch_size):
        return tuple(P.expand(-1, batch_size, -1, -1, -1) for P in self.layers)


def _lm_head_note(model_fn, encoder):
    """Print (never fail) whether the LM head ran on all positions or on the [MASK] rows only."""
    shapes = []
    handle = encoder.lm_head.register_forward_hook(lambda m, i, o: shapes.append(i[0].dim()))
    try:
        with torch.no_grad():
            model_fn()
    finally:
        handle.remove()
    if shapes and max(shapes) > 2:
        print("  note: your forward applies the LM head to every position (B, T, d); correct, "
              "but only the [MASK] row is needed: the (B, d) rows alone cost T times less")


def _batch():
    """Two rows with the [MASK] at different places; the second is padded."""
    ids = torch.tensor([[CLS_ID, 11, 12, 13, MASK_ID, 14, 15],
                        [CLS_ID, 16, MASK_ID, 17, 0, 0, 0]])
    mask = (ids != 0).long()
    return ids, mask


# ------------------------------------------------------------------------------ soft prompt
@visible_check
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
def _common_classifier_checks(model, enc, ids, mask, label_ids, keep, shift_hint=None):
    """Shape, reads at the [MASK] only, label-word logits in order, padding."""
    run = lambda i=ids, m=mask: _call("model(input_ids, attention_mask)", model, i, m)
    with torch.no_grad():
        scores = run()
    expect_shape(scores, (ids.shape[0], len(label_ids)), "the scores (B, number of labels)")
    if shift_hint is not None:
        wrong_place, hint = shift_hint
        expect(not moves_when_hidden_changes(run, enc, ~wrong_place, scores), hint)
    expect(not moves_when_hidden_changes(run, enc, keep, scores),
           "your scores change when the hidden states at positions other than the [MASK] "
           "change: read them at each row's [MASK] only")
    ok("the scores depend only on the hidden state at each row's [MASK]")
    label_columns_move(run, enc, label_ids, scores)
    ok("column l is the MLM logit of label word v(l), in label order")
    with torch.no_grad():
        alone = model(ids[1:, :4], mask[1:, :4])
    expect_close(scores[1:], alone, "the padded row vs. the same row without padding",
                 hint="pass the attention mask on: padding must not change the scores")
    ok("padding does not change the scores")
    return scores


@visible_check
def check_hard_prompt(HardPromptMLM) -> None:
    enc = _tiny_encoder()
    label_ids = [21, 9, 27, 14]
    model = _call("HardPromptMLM(encoder, mask_id, label_word_ids)", HardPromptMLM, enc,
                  MASK_ID, label_ids)
    expect(isinstance(model, nn.Module), "HardPromptMLM should be an nn.Module")
    expect(_trainable(model) == 0, f"{_trainable(model):,} trainable parameters: freeze every "
                                   f"parameter of the encoder (requires_grad = False)")
    ok("the encoder is frozen: nothing trains")
    ids, mask = _batch()
    model.eval()
    _common_classifier_checks(model, enc, ids, mask, label_ids, ids == MASK_ID,
                              shift_hint=(torch.arange(ids.shape[1])[None].expand_as(ids) == 0,
                                          "you read the scores at the [CLS] position (index 0);"
                                          " the label word is predicted at the [MASK]"))
    _lm_head_note(lambda: model(ids, mask), enc)
    print("All visible HardPromptMLM checks passed.")


@visible_check
def check_soft_prompt_mlm(SoftPromptMLM) -> None:
    enc = _tiny_encoder()
    label_ids = [10, 18, 19, 20]
    prompt = StandInPrompt(enc.config.d_model, n=3)
    model = _call("SoftPromptMLM(encoder, soft_prompt, mask_id, label_word_ids)", SoftPromptMLM,
                  enc, prompt, MASK_ID, label_ids)
    expect(_trainable(model) == _trainable(prompt),
           f"{_trainable(model):,} trainable parameters, expected only the prompt's "
           f"{_trainable(prompt)}: freeze every parameter of the encoder")
    ok("the encoder is frozen; only the prompt trains")
    model.eval()
    ids, mask = _batch()
    n = prompt.n
    shifted = torch.cat([torch.zeros(2, n, dtype=torch.bool), ids == MASK_ID], 1)   # (B, n + T)
    unshifted = torch.cat([ids == MASK_ID, torch.zeros(2, n, dtype=torch.bool)], 1)
    scores = _common_classifier_checks(
        model, enc, ids, mask, label_ids, shifted,
        shift_hint=(unshifted, "you read the scores where the [MASK] was before the prompt: "
                               "after prepending n vectors it sits n positions further right"))
    with torch.no_grad():
        saved = prompt.P.clone()
        noise = torch.randn(prompt.P.shape[1], generator=torch.Generator().manual_seed(2))
        prompt.P[1] += 3 * noise                    # the vector the stand-in masks out
        hidden_one = model(ids, mask)
        prompt.P.copy_(saved)
        prompt.P[0] += noise
        visible_one = model(ids, mask)
        prompt.P.copy_(saved)
    expect(not torch.allclose(visible_one, scores, atol=1e-6),
           "the scores do not change when the prompt changes: run the encoder on the "
           "embeddings the prompt module returns (inputs_embeds=...)")
    expect_close(hidden_one, scores, "the scores after changing a prompt vector the prompt's "
                 "own mask hides", hint="run the encoder with the attention mask the prompt "
                 "module returns, not a mask of your own")
    ok("the encoder reads the prompt's embeddings with the prompt's mask")
    _lm_head_note(lambda: model(ids, mask), enc)

    model.zero_grad()
    model(ids, mask).sum().backward()
    expect(prompt.P.grad is not None and prompt.P.grad.abs().sum() > 0,
           "no gradient reaches the prompt")
    expect(all(p.grad is None for p in enc.parameters()), "gradients reach the encoder's "
                                                           "weights: freeze them")
    ok("gradients reach the prompt and nothing else")
    print("All visible SoftPromptMLM checks passed.")


# ------------------------------------------------------------------------------ P-tuning
@visible_check
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
    with torch.no_grad():
        saved = (last.weight.clone(), last.bias.clone())
        last.weight.zero_()
        last.bias.zero_()
        silenced = pt.prompt()
        last.weight.copy_(saved[0])
        last.bias.copy_(saved[1])
    expect_close(silenced, torch.zeros(n, d), "prompt() when the MLP's last layer outputs zeros",
                 hint="prompt() is MLP(P_0) alone, with nothing of P_0 added")
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


@visible_check
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
def _check_prefix_hook(prefix_hook) -> None:
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

    print("All visible prefix_hook checks passed.")


def _prefix_model_checks(model, net, prefix, run, hooks, what):
    """Frozen, hooks removed (also after an error), every layer's prefix used, gradients."""
    expect(_trainable(model) == _trainable(prefix),
           f"{_trainable(model):,} trainable parameters, expected only the prefix's "
           f"{_trainable(prefix):,}: freeze every parameter of the {what}")
    ok(f"the {what} is frozen; only the prefixes train")
    with torch.no_grad():
        out = run()
    expect(all(b.attn.kv_hook is None for b in net.blocks),
           "remove the hooks after the forward (set block.attn.kv_hook = None)")
    for j, P in enumerate(prefix.layers):
        with torch.no_grad():
            saved = P.clone()
            P.add_(torch.randn(P.shape, generator=torch.Generator().manual_seed(j)))
            changed = run()
            P.copy_(saved)
        expect(not torch.allclose(changed, out, atol=1e-6),
               f"changing layer {j}'s prefix does not change the output: P-tuning v2 puts a "
               f"prefix into every layer, visible to every query")
    ok(f"each of the {len(prefix.layers)} layers uses its own prefix")
    broken = lambda batch_size: tuple(P[:, :, :1].expand(-1, batch_size + 1, -1, -1, -1)
                                      for P in prefix.layers)       # wrong shapes: must fail
    saved, prefix.forward = prefix.forward, broken
    try:
        with torch.no_grad():
            run()
    except Exception:
        pass
    finally:
        prefix.forward = saved
    expect(all(b.attn.kv_hook is None for b in net.blocks),
           "a forward that fails left the hooks installed: remove them in a `finally:` block")
    ok("the hooks are removed after every forward, even one that fails")
    model.zero_grad()
    run().sum().backward()
    expect(all(P.grad is not None and P.grad.abs().sum() > 0 for P in prefix.layers),
           "no gradient reaches the prefixes")
    expect(all(p.grad is None for p in net.parameters()), f"gradients reach the {what}'s "
                                                         f"weights: freeze them")
    ok("gradients reach the prefixes and nothing else")
    return out


@visible_check
def check_prefix_tuning(prefix_hook, PrefixTuningMLM) -> None:
    _check_prefix_hook(prefix_hook)
    enc = _tiny_encoder(n_layers=3)
    cfg = enc.config
    label_ids = [10, 18, 19, 20]
    prefix = StandInPrefix(cfg.n_layers, cfg.n_heads, cfg.d_head)
    model = _call("PrefixTuningMLM(encoder, prefix_encoder, mask_id, label_word_ids)",
                  PrefixTuningMLM, enc, prefix, MASK_ID, label_ids)
    ids, mask = _batch()
    model.eval()
    run = lambda: _call("model(input_ids, attention_mask)", model, ids, mask)
    _prefix_model_checks(model, enc, prefix, run, None, "encoder")
    _common_classifier_checks(model, enc, ids, mask, label_ids, ids == MASK_ID)
    print("All visible prefix-tuning checks passed.")


@visible_check
def check_prefix_lm(PrefixTuningLM) -> None:
    dec = _tiny_encoder(n_layers=2, causal=True)
    cfg = dec.config
    prefix = StandInPrefix(cfg.n_layers, cfg.n_heads, cfg.d_head, n=3)
    model = _call("PrefixTuningLM(decoder, prefix_encoder)", PrefixTuningLM, dec, prefix)
    ids = torch.tensor([[5, 11, 12, 13, 14, 15], [5, 16, 17, 18, 0, 0]])
    mask = (ids != 0).long()
    model.eval()
    run = lambda i=ids, m=mask: _call("model(input_ids, attention_mask)", model, i, m)
    with torch.no_grad():
        logits = run()
    expect_shape(logits, (2, 6, cfg.vocab_size), "the logits (B, T, V)")
    ok("forward returns the next-token logits (B, T, V)")
    _prefix_model_checks(model, dec, prefix, run, None, "decoder")
    later = ids.clone()
    later[0, 4:] = torch.tensor([20, 21])
    with torch.no_grad():
        changed = run(later, mask)
    expect_close(changed[0, :4], logits[0, :4], "the logits of the first 4 positions after "
                 "changing tokens 4 and 5", hint="the decoder is causal: let it build its own "
                 "mask from attention_mask (extend masks only inside the hook)")
    with torch.no_grad():
        saved = prefix.layers[0].clone()
        prefix.layers[0].add_(torch.randn(saved.shape, generator=torch.Generator().manual_seed(5)))
        first = run()[:, 0]
        prefix.layers[0].copy_(saved)
    expect(not torch.allclose(first, logits[:, 0], atol=1e-6),
           "the first position does not see the prefix: the causal mask must never hide it")
    ok("causal: a position sees the prefix and the tokens before it, never those after it")
    with torch.no_grad():
        alone = model(ids[1:, :4], mask[1:, :4])
    expect_close(logits[1, :4], alone[0], "the padded row vs. the same row without padding",
                 hint="pass attention_mask to the decoder")
    ok("padding does not change the logits")
    print("All visible PrefixTuningLM checks passed.")
