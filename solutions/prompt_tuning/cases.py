"""Hidden cases of the prompt-tuning notebook (solutions/prompt_tuning.py): inputs and calls only.

Each case builds seeded inputs, calls the student's objects, and returns plain outputs; the
grader runs the same case on the reference and compares. Trainable weights are overwritten with
seeded values after construction, so random initialisations never decide a verdict.
"""

import torch
from torch import nn

from autograde.hidden import Case
from course_lib.model import Encoder, TransformerConfig

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


def _encoder(seed, n_layers=2, d=16, heads=2):
    torch.manual_seed(100 + seed)
    cfg = TransformerConfig(vocab_size=VOCAB, d_model=d, n_heads=heads, n_layers=n_layers,
                            d_ff=2 * d, max_len=32, dropout=0.0)
    return Encoder(cfg).eval()


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


# ------------------------------------------------------------------------------ soft prompt MLM
def _soft_prompt_mlm(objects, seed):
    n = [3, 2, 5][seed]
    enc = _encoder(seed)
    labels = _label_ids(seed)
    sp = objects["SoftPrompt"](enc.embed.tok, n)
    model = objects["SoftPromptMLM"](enc, sp, labels)
    with torch.no_grad():
        sp.P.copy_(torch.randn(sp.P.shape, generator=_gen(seed, 6)))
    ids, mask = _batch(seed)
    scores = model(ids, mask)
    scores.sum().backward()
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
    n, L, projection = [(2, 2, False), (3, 3, False), (1, 2, True)][seed]
    enc = _encoder(seed, n_layers=L)
    cfg = enc.config
    pe = objects["PrefixEncoder"](n, L, cfg.d_model, cfg.n_heads, projection=projection,
                                  hidden=8)
    model = objects["PrefixTuningMLM"](enc, pe, _label_ids(seed))
    g = _gen(seed, 10)
    with torch.no_grad():
        for p in pe.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    ids, mask = _batch(seed)
    scores = model(ids, mask)
    scores.sum().backward()
    return {"scores": scores, "trainable": _trainable(model),
            "embedding_grad": pe.embedding.weight.grad,
            "hooks_removed": all(b.attn.kv_hook is None for b in enc.blocks),
            "encoder_grads": sum(p.grad is not None for p in enc.parameters())}


CASES = {
    "soft_prompt": Case(_soft_prompt, seeds=(0, 1, 2), requires={
        "n": "store the number of virtual tokens as self.n",
        "P_shape": "P should be (n, d)",
        "P_is_parameter": "P should be an nn.Parameter",
        "trainable": "only P trains (n * d); do not keep the model's embedding as a submodule",
        "vocab_rows_from_E": "init='vocab' copies rows of the embedding matrix",
        "P_text": "init='text' repeats the text's token embeddings until n, then cuts to n",
        "P_text_long": "init='text' cuts a long text to its first n tokens",
        "E_unchanged": "the model's embedding must not change",
        "inputs_embeds": "forward returns [P ; E(x)]: the prompt first, before [CLS]",
        "attention_mask": "the attention mask gains n ones in front",
        "P_grad": "gradients must reach P"}),
    "soft_prompt_mlm": Case(_soft_prompt_mlm, seeds=(0, 1, 2), requires={
        "scores": "verbalizer scores at the [MASK], which moved right by n",
        "trainable": "freeze the encoder: only the prompt's n * d numbers train",
        "P_grad": "gradients must reach P through the encoder",
        "encoder_grads": "the encoder's weights must get no gradient (freeze them)"}),
    "p_tuning": Case(_p_tuning, seeds=(0, 1, 2), requires={
        "trainable": "P_0 and the MLP train: n d + the three Linear layers",
        "mlp": "the MLP is Linear-ReLU-Linear-ReLU-Linear",
        "prompt": "prompt() = MLP(P_0)",
        "inputs_embeds": "forward prepends prompt() = MLP(P_0)",
        "attention_mask": "the attention mask gains n ones in front",
        "P_grad": "gradients must reach P_0 through the MLP"}),
    "prefix_encoder": Case(_prefix_encoder, seeds=(0, 1, 2, 3), requires={
        "past": "view (B, n, 2L, H, d_head), permute to (2L, B, H, n, d_head), split(2)",
        "trainable": "Embedding(n, L*2*d), or Embedding(n, d) + Linear-Tanh-Linear"}),
    "prefix_hook": Case(_prefix_hook, seeds=(0, 1, 2), requires={
        "k": "keys become [P_k ; K] along the key axis",
        "v": "values become [P_v ; V] along the key axis",
        "padding_mask": "the mask gains n True columns in front of its last axis",
        "causal_mask": "the causal mask never hides the prefix",
        "no_mask": "a mask of None stays None"}),
    "prefix_tuning": Case(_prefix_tuning, seeds=(0, 1, 2), requires={
        "scores": "every layer's attention uses its own prefix; the [MASK] does not move",
        "trainable": "freeze the encoder: only the prefix encoder trains",
        "embedding_grad": "gradients must reach the prefix embedding",
        "hooks_removed": "set every block.attn.kv_hook back to None after the forward",
        "encoder_grads": "the encoder's weights must get no gradient (freeze them)"}),
}
