"""Hidden cases of the prompt-tuning notebook (solutions/prompt_tuning/prompt_tuning.py).

Each case builds seeded inputs, calls the one student object its exercise asks for, and returns
plain outputs; the grader runs the same case on the reference and compares. Trainable weights
are overwritten with seeded values after construction, so random initialisations never decide a
verdict. The classifiers get stand-ins for the prompt and the prefix encoder (`_Prompt`,
`_Prefix`), never the student's SoftPrompt or PrefixEncoder, so their points depend on their own
exercise; a stand-in prompt masks one of its vectors out, which a SoftPrompt never does.
"""

import torch
from torch import nn

from autograde.spec import Case
from course_lib.model import Decoder, Encoder, TransformerConfig

MASK_ID, CLS_ID = 4, 2
VOCAB = 40


def _gen(seed, offset=0):
    return torch.Generator().manual_seed(1000 * offset + seed)


def _embedding(seed, d):
    emb = nn.Embedding(VOCAB, d)
    with torch.no_grad():
        emb.weight.copy_(torch.randn(VOCAB, d, generator=_gen(seed, 1)))
    emb.weight.requires_grad = False
    return emb


def _trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _encoder(seed, n_layers=2, d=16, heads=2, causal=False):
    torch.manual_seed(100 + seed)
    cfg = TransformerConfig(vocab_size=VOCAB, d_model=d, n_heads=heads, n_layers=n_layers,
                            d_ff=2 * d, max_len=32, dropout=0.0, causal=causal)
    model = (Decoder if causal else Encoder)(cfg).eval()
    with torch.no_grad():
        model.lm_head.bias.copy_(torch.randn(VOCAB, generator=_gen(seed, 11)))
    return model


class _Prompt(nn.Module):
    """A stand-in soft prompt: n seeded vectors in front, the last one masked out."""

    def __init__(self, n, d, seed):
        super().__init__()
        self.n = n
        self.P = nn.Parameter(torch.randn(n, d, generator=_gen(seed, 12)))

    def forward(self, inputs_embeds, attention_mask):
        B = inputs_embeds.shape[0]
        visible = torch.ones(B, self.n, dtype=attention_mask.dtype)
        visible[:, -1] = 0
        return (torch.cat([self.P[None].expand(B, -1, -1), inputs_embeds], 1),
                torch.cat([visible, attention_mask], 1))


class _Prefix(nn.Module):
    """A stand-in prefix encoder: one seeded (2, B, H, n, d_head) parameter per layer."""

    def __init__(self, n, n_layers, n_heads, d_head, seed, fail=False):
        super().__init__()
        g = _gen(seed, 13)
        self.layers = nn.ParameterList(nn.Parameter(torch.randn(2, 1, n_heads, n, d_head,
                                                                generator=g))
                                       for _ in range(n_layers))
        self.fail = fail

    def forward(self, batch_size):
        B = batch_size + 1 if self.fail else batch_size          # wrong shapes: attention fails
        return tuple(P.expand(-1, B, -1, -1, -1) for P in self.layers)


def _hooks_removed_after_error(make_model, net, ids, mask):
    """Run a forward whose prefix has the wrong batch size: it fails; are the hooks gone?"""
    model = make_model(True)
    try:
        model(ids, mask)
    except Exception:
        pass
    return all(b.attn.kv_hook is None for b in net.blocks)


def _batch(seed, B=3, T=9):
    """Rows of random tokens starting with [CLS], one [MASK] each (random place), some padded."""
    g = _gen(seed, 2)
    ids = torch.randint(7, VOCAB, (B, T), generator=g)
    ids[:, 0] = CLS_ID
    lengths = torch.randint(4, T + 1, (B,), generator=g)
    lengths[0] = T
    mask = (torch.arange(T)[None] < lengths[:, None]).long()
    for b in range(B):
        pos = int(torch.randint(1, int(lengths[b]), (1,), generator=g))
        ids[b, pos] = MASK_ID
    return ids * mask, mask


def _label_ids(seed):
    return torch.randperm(VOCAB - 7, generator=_gen(seed, 3))[:4].add(7).tolist()


# ------------------------------------------------------------------------------ soft prompt
SOFT = {0: (3, 8, 2, 4), 1: (5, 16, 3, 6), 2: (1, 12, 1, 7)}       # n, d, B, T


def _soft_prompt(objects, seed):
    n, d, B, T = SOFT[seed]
    SoftPrompt = objects["SoftPrompt"]
    emb = _embedding(seed, d)
    E = emb.weight.detach().clone()
    out = {}
    rnd = SoftPrompt(emb, n)
    out["n"] = rnd.n
    out["P_shape"] = list(rnd.P.shape)
    out["P_is_parameter"] = isinstance(rnd.P, nn.Parameter)
    out["trainable"] = _trainable(rnd)
    vocab = SoftPrompt(emb, n, "vocab")
    out["vocab_rows_from_E"] = bool(((vocab.P.detach()[:, None] - E[None]).abs().amax(-1) < 1e-6)
                                    .any(-1).all())
    text_ids = torch.randint(7, VOCAB, (seed + 2,), generator=_gen(seed, 4)).tolist()
    out["P_text"] = SoftPrompt(emb, n, "text", text_ids).P
    out["P_text_long"] = SoftPrompt(emb, 1, "text", text_ids).P
    out["E_unchanged"] = bool(torch.equal(emb.weight, E))
    g = _gen(seed, 5)
    with torch.no_grad():
        rnd.P.copy_(torch.randn(n, d, generator=g))
    x = torch.randn(B, T, d, generator=g)
    mask = (torch.arange(T)[None] < torch.randint(1, T + 1, (B,), generator=g)[:, None]).long()
    xp, mp = rnd(x, mask)
    out["inputs_embeds"] = xp
    out["attention_mask"] = mp
    (xp * torch.randn(xp.shape, generator=g)).sum().backward()
    out["P_grad"] = rnd.P.grad
    return out


# ------------------------------------------------------------------------------ hard prompt
def _hard_prompt(objects, seed):
    enc = _encoder(seed)
    model = objects["HardPromptMLM"](enc, MASK_ID, _label_ids(seed))
    ids, mask = _batch(seed)
    scores = model(ids, mask)
    return {"scores": scores.detach(), "trainable": _trainable(model),
            "requires_grad": bool(scores.requires_grad)}


# ------------------------------------------------------------------------------ soft prompt MLM
def _soft_prompt_mlm(objects, seed):
    n = [3, 2, 5][seed]
    enc = _encoder(seed)
    sp = _Prompt(n, enc.config.d_model, seed)
    model = objects["SoftPromptMLM"](enc, sp, MASK_ID, _label_ids(seed))
    ids, mask = _batch(seed)
    scores = model(ids, mask)
    (scores * torch.randn(scores.shape, generator=_gen(seed, 6))).sum().backward()
    return {"scores": scores, "trainable": _trainable(model), "P_grad": sp.P.grad,
            "encoder_grads": sum(p.grad is not None for p in enc.parameters())}


# ------------------------------------------------------------------------------ P-tuning
def _p_tuning(objects, seed):
    n, d, h = [(3, 8, 16), (4, 16, 8), (2, 12, 12)][seed]
    emb = _embedding(seed, d)
    pt = objects["PTuningPrompt"](emb, n, h)
    out = {"trainable": _trainable(pt),
           "mlp": [type(m).__name__ for m in pt.mlp]}
    g = _gen(seed, 7)
    with torch.no_grad():
        pt.P.copy_(torch.randn(n, d, generator=g))
        for m in pt.mlp:
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.weight.shape[1] ** 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g))
    out["prompt"] = pt.prompt()
    x = torch.randn(2, 3, d, generator=g)
    xp, mp = pt(x, torch.ones(2, 3, dtype=torch.long))
    out["inputs_embeds"], out["attention_mask"] = xp, mp
    xp.sum().backward()
    out["P_grad"] = pt.P.grad
    return out


# ------------------------------------------------------------------------------ prefix encoder
PREFIX = {0: (3, 2, 8, 2, False, 2), 1: (2, 3, 12, 3, True, 3), 2: (4, 4, 16, 4, False, 1),
          3: (5, 2, 8, 4, True, 2)}                  # n, L, d, H, projection, batch size


def _prefix_encoder(objects, seed):
    n, L, d, H, projection, B = PREFIX[seed]
    pe = objects["PrefixEncoder"](n, L, d, H, projection=projection, hidden=10)
    g = _gen(seed, 8)
    with torch.no_grad():
        pe.embedding.weight.copy_(torch.randn(pe.embedding.weight.shape, generator=g))
        if projection:
            for m in pe.transform:
                if isinstance(m, nn.Linear):
                    m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g))
    past = pe(B)
    return {"past": [p for p in past], "trainable": _trainable(pe)}


# ------------------------------------------------------------------------------ prefix hook
def _prefix_hook(objects, seed):
    B, H, T, n, dh = [(2, 2, 5, 3, 4), (1, 4, 3, 2, 2), (3, 1, 6, 4, 3)][seed]
    g = _gen(seed, 9)
    k, v = torch.randn(B, H, T, dh, generator=g), torch.randn(B, H, T, dh, generator=g)
    P_k, P_v = torch.randn(B, H, n, dh, generator=g), torch.randn(B, H, n, dh, generator=g)
    hook = objects["prefix_hook"](P_k, P_v)
    pad = (torch.arange(T)[None] < torch.randint(1, T + 1, (B,), generator=g)[:, None])
    k2, v2, m2 = hook(k, v, pad[:, None, None, :])
    causal = torch.ones(T, T).tril().bool()[None, None]
    _, _, m3 = hook(k, v, causal)
    _, _, m4 = hook(k, v, None)
    return {"k": k2, "v": v2, "padding_mask": m2, "causal_mask": m3, "no_mask": m4}


# ------------------------------------------------------------------------------ prefix tuning
def _prefix_tuning(objects, seed):
    n, L = [(2, 2), (3, 3), (1, 2)][seed]
    enc = _encoder(seed, n_layers=L)
    cfg = enc.config
    make = lambda fail=False: objects["PrefixTuningMLM"](
        enc, _Prefix(n, L, cfg.n_heads, cfg.d_head, seed, fail), MASK_ID, _label_ids(seed))
    ids, mask = _batch(seed)
    return _prefix_outputs(make, enc, ids, mask, _gen(seed, 10), "scores", "encoder_grads")


def _prefix_outputs(make, net, ids, mask, g, output, grads):
    """A prefix model's outputs (named `output`), backpropagated against random weights from g:
    what trains, the prefixes' gradients, whether the hooks are gone (after a failing forward
    too) and how many of the frozen network's parameters got a gradient (named `grads`)."""
    model = make()
    y = model(ids, mask)
    (y * torch.randn(y.shape, generator=g)).sum().backward()
    return {output: y, "trainable": _trainable(model),
            "prefix_grad": [P.grad for P in model.prefix_encoder.layers],
            "hooks_removed": all(b.attn.kv_hook is None for b in net.blocks),
            "hooks_removed_after_error": _hooks_removed_after_error(make, net, ids, mask),
            grads: sum(p.grad is not None for p in net.parameters())}


# ------------------------------------------------------------------------------ prefix LM
def _prefix_lm(objects, seed):
    n, L = [(2, 2), (3, 2), (1, 3)][seed]
    dec = _encoder(seed, n_layers=L, causal=True)
    cfg = dec.config
    make = lambda fail=False: objects["PrefixTuningLM"](
        dec, _Prefix(n, L, cfg.n_heads, cfg.d_head, seed + 5, fail))
    ids, mask = _batch(seed)
    ids[:, 0] = 5                                                   # [BOS] starts a decoder row
    return _prefix_outputs(make, dec, ids, mask, _gen(seed, 14), "logits", "decoder_grads")


CASES = {
    "soft_prompt": Case(_soft_prompt, seeds=(0, 1, 2), requires={
        "n": "self.n is the number of virtual tokens",
        "P_shape": "P has shape (n, d)",
        "P_is_parameter": "P is an nn.Parameter",
        "trainable": "only P trains (n * d numbers); the model's embedding is not part of the "
                     "prompt",
        "vocab_rows_from_E": "init='vocab' copies rows of the embedding matrix",
        "P_text": "init='text' repeats the text's token embeddings until n, then cuts to n",
        "P_text_long": "init='text' cuts a long text to its first n tokens",
        "E_unchanged": "the model's embedding does not change",
        "inputs_embeds": "forward returns [P ; E(x)]: the prompt first, before [CLS]",
        "attention_mask": "the attention mask gains n ones in front",
        "P_grad": "gradients reach P"}),
    "hard_prompt": Case(_hard_prompt, seeds=(0, 1, 2), requires={
        "scores": "the label words' MLM logits at each row's [MASK], in label order",
        "trainable": "every parameter of the encoder is frozen",
        "requires_grad": "with everything frozen, the scores carry no gradient"}),
    "soft_prompt_mlm": Case(_soft_prompt_mlm, seeds=(0, 1, 2), requires={
        "scores": "the label words' MLM logits at the [MASK], which moved right by n; the "
                  "encoder runs on the prompt module's embeddings and mask",
        "trainable": "the encoder is frozen: only the prompt trains",
        "P_grad": "gradients reach the prompt through the encoder",
        "encoder_grads": "the encoder's weights get no gradient (they are frozen)"}),
    "p_tuning": Case(_p_tuning, seeds=(0, 1, 2), requires={
        "trainable": "P_0 and the MLP train: n d + the three Linear layers",
        "mlp": "the MLP is Linear-ReLU-Linear-ReLU-Linear",
        "prompt": "prompt() = MLP(P_0)",
        "inputs_embeds": "forward prepends prompt() = MLP(P_0)",
        "attention_mask": "the attention mask gains n ones in front",
        "P_grad": "gradients reach P_0 through the MLP"}),
    "prefix_encoder": Case(_prefix_encoder, seeds=(0, 1, 2, 3), requires={
        "past": "peft's layout: the rows viewed as (B, n, 2L, H, d_head), permuted to (2L, B, H, "
                "n, d_head), split into one (2, B, H, n, d_head) per layer",
        "trainable": "Embedding(n, L*2*d), or Embedding(n, d) + Linear-Tanh-Linear"}),
    "prefix_hook": Case(_prefix_hook, seeds=(0, 1, 2), requires={
        "k": "keys become [P_k ; K] along the key axis",
        "v": "values become [P_v ; V] along the key axis",
        "padding_mask": "the mask gains n True columns in front of its last axis",
        "causal_mask": "the causal mask never hides the prefix",
        "no_mask": "a mask of None stays None"}),
    "prefix_tuning": Case(_prefix_tuning, seeds=(0, 1, 2), requires={
        "scores": "every layer's attention uses its own prefix; the label words' MLM logits "
                  "at the [MASK], which does not move",
        "trainable": "the encoder is frozen: only the prefix encoder trains",
        "prefix_grad": "gradients reach every layer's prefix",
        "hooks_removed": "every block.attn.kv_hook is None again after the forward",
        "hooks_removed_after_error": "the hooks are removed even when the forward fails",
        "encoder_grads": "the encoder's weights get no gradient (they are frozen)"}),
    "prefix_lm": Case(_prefix_lm, seeds=(0, 1, 2), requires={
        "logits": "the frozen decoder's next-token logits, with every layer's prefix visible "
                  "to every position",
        "trainable": "the decoder is frozen: only the prefix encoder trains",
        "prefix_grad": "gradients reach every layer's prefix",
        "hooks_removed": "every block.attn.kv_hook is None again after the forward",
        "hooks_removed_after_error": "the hooks are removed even when the forward fails",
        "decoder_grads": "the decoder's weights get no gradient (they are frozen)"}),
}
