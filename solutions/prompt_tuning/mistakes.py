"""Named mistakes of the prompt-tuning notebook (grader only): wrong variants of the reference.

Names follow the course's conventions for soft prompt tuning and prefix tuning. Each is a `variant`
of a reference object (extracted from solutions/prompt_tuning/prompt_tuning.ipynb) that breaks one
thing.
"""

import torch
from torch import nn

from autograde.spec import Mistake, around, namespace_of, variant
from course_lib.prompts import mask_position

# (solution cell, text in the reference, what a student with a named mistake wrote instead):
# the prefix goes into the first layer only.
WRONG_SUBMISSION = ("prefix_tuning",
                    "for block, P in zip(self.encoder.blocks, past):",
                    "for block, P in zip(self.encoder.blocks[:1], past):")


def _reference_hook(self):
    """prefix_hook as the reference's notebook defines it (self is a variant of a reference class)."""
    return namespace_of(type(self).__mro__[1])["prefix_hook"]


def _label_logits(self, hidden, positions, probs=False):
    """The label words' MLM logits (or vocabulary probabilities) at positions (B,)."""
    logits = self.encoder.lm_head(hidden[torch.arange(len(positions)), positions])   # (B, V)
    if probs:
        logits = torch.softmax(logits, dim=-1)              # over all V words, not renormalised
    return logits[:, self.label_word_ids]


# ------------------------------------------------------------------------------ frozen weights
def _encoder_trainable(self, encoder, **_):
    for p in encoder.parameters():
        p.requires_grad = True


def _decoder_trainable(self, decoder, **_):
    for p in decoder.parameters():
        p.requires_grad = True


# ------------------------------------------------------------------------------ hard prompt
def _hard_forward(position=None, probs=False):
    def forward(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              return_logits=False)["hidden"]
        t = mask_position(input_ids, self.mask_id) if position is None else \
            torch.full((len(input_ids),), position)
        return _label_logits(self, hidden, t, probs)
    return forward


# ------------------------------------------------------------------------------ soft prompt
def _mask_not_extended(forward, self, inputs_embeds, attention_mask):
    x, _ = forward(self, inputs_embeds, attention_mask)
    return x, attention_mask


def _prompt_masked_out(forward, self, inputs_embeds, attention_mask):
    x, mask = forward(self, inputs_embeds, attention_mask)
    mask = mask.clone()
    mask[:, :self.n] = 0
    return x, mask


def _after_cls(self, inputs_embeds, attention_mask):
    B = inputs_embeds.shape[0]
    P = self.prompt().unsqueeze(0).expand(B, -1, -1)
    x = torch.cat([inputs_embeds[:, :1], P, inputs_embeds[:, 1:]], dim=1)
    ones = attention_mask.new_ones(B, self.n)
    mask = torch.cat([attention_mask[:, :1], ones, attention_mask[:, 1:]], dim=1)
    return x, mask


def _keeps_embedding(self, embedding, **_):
    self.embedding = embedding
    embedding.weight.requires_grad = True


def _soft_forward(shift=True, probs=False, own_mask=False):
    def forward(self, input_ids, attention_mask):
        E = self.encoder.embed.tok(input_ids)
        x, mask = self.soft_prompt(E, attention_mask)
        if own_mask:                                        # the prompt's own mask ignored
            mask = torch.cat([attention_mask.new_ones(len(x), self.soft_prompt.n),
                              attention_mask], 1)
        hidden = self.encoder(inputs_embeds=x, attention_mask=mask,
                              return_logits=False)["hidden"]
        t = mask_position(input_ids, self.mask_id) + (self.soft_prompt.n if shift else 0)
        return _label_logits(self, hidden, t, probs)
    return forward


# ------------------------------------------------------------------------------ P-tuning
def _tanh_mlp(self, embedding, hidden, **_):
    d, h = embedding.weight.shape[1], hidden
    self.mlp = nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, d))


# ------------------------------------------------------------------------------ prefix encoder


def _rows(self):
    ids = torch.arange(self.n, device=self.embedding.weight.device)
    pkv = self.embedding(ids)
    return self.transform(pkv) if self.projection else pkv


def _heads_layers_mixed(self, batch_size):
    B, H = batch_size, self.n_heads
    pkv = _rows(self).unsqueeze(0).expand(B, -1, -1)
    pkv = pkv.reshape(B, self.n, H, 2 * self.n_layers, self.d_model // H)
    return pkv.permute(3, 0, 2, 1, 4).split(2)


def _keys_values_blocked(self, batch_size):
    """All keys of all layers first, then all values: (2, L) instead of (L, 2)."""
    B, H, L = batch_size, self.n_heads, self.n_layers
    pkv = _rows(self).unsqueeze(0).expand(B, -1, -1)
    pkv = pkv.reshape(B, self.n, 2, L, H, self.d_model // H)
    pkv = pkv.permute(3, 2, 0, 4, 1, 5)                  # (L, 2, B, H, n, dh)
    return tuple(pkv.unbind(0))


def _tokens_heads_swapped(self, batch_size):
    B, H = batch_size, self.n_heads
    pkv = _rows(self).unsqueeze(0).expand(B, -1, -1)
    pkv = pkv.reshape(B, H, 2 * self.n_layers, self.n, self.d_model // H)
    return pkv.permute(2, 0, 1, 3, 4).split(2)


# ------------------------------------------------------------------------------ prefix hook
def _masked_out(prefix_hook, P_k, P_v):
    """prefix_hook's hook, with the prefix's new mask columns False."""
    inner = prefix_hook(P_k, P_v)

    def hook(k, v, attn_mask):
        k, v, m = inner(k, v, attn_mask)
        if m is not None:
            m = m.clone()
            m[..., :P_k.shape[2]] = False
        return k, v, m
    return hook


def _hook_mask_not_extended(P_k, P_v):
    def hook(k, v, attn_mask):
        return torch.cat([P_k, k], 2), torch.cat([P_v, v], 2), attn_mask
    return hook


def _hook_prefix_after(P_k, P_v):
    def hook(k, v, attn_mask):
        if attn_mask is not None:
            ones = attn_mask.new_ones(*attn_mask.shape[:-1], P_k.shape[2])
            attn_mask = torch.cat([attn_mask, ones], -1)
        return torch.cat([k, P_k], 2), torch.cat([v, P_v], 2), attn_mask
    return hook


# ------------------------------------------------------------------------------ prefix tuning
def _forward_with(wrap_hook=None, blocks_used=None, remove=True, net="encoder"):
    def forward(self, input_ids, attention_mask=None):
        make = _reference_hook(self)
        if wrap_hook is not None:
            make = around(wrap_hook).wrap(make)
        past = self.prefix_encoder(input_ids.shape[0])
        model = getattr(self, net)
        blocks = list(model.blocks)
        for block, P in list(zip(blocks, past))[:blocks_used]:
            block.attn.kv_hook = make(P[0], P[1])
        try:
            out = model(input_ids=input_ids, attention_mask=attention_mask,
                        return_logits=net == "decoder")
        finally:
            if remove:
                for block in blocks:
                    block.attn.kv_hook = None
        if net == "decoder":
            return out["logits"]
        return _label_logits(self, out["hidden"], mask_position(input_ids, self.mask_id))
    return forward


def _hooks_left_on_error(net="encoder"):
    """Removes the hooks after a forward that succeeds, but not in a finally: block."""
    inner = _forward_with(net=net)

    def forward(self, input_ids, attention_mask=None):
        model = getattr(self, net)
        past = self.prefix_encoder(input_ids.shape[0])
        for block, P in zip(model.blocks, past):
            block.attn.kv_hook = _reference_hook(self)(P[0], P[1])
        model(input_ids=input_ids, attention_mask=attention_mask)     # raises before removal
        return inner(self, input_ids, attention_mask)
    return forward


MIXED = Mistake("wrong permute (mixes heads and layers)", "view the rows as (B, n, 2L, H, "
                "d_head) and permute to (2L, B, H, n, d_head): your layout mixes heads and "
                "layers", variant("PrefixEncoder", forward=_heads_layers_mixed))
BASE = ("base weights left trainable", "freeze every parameter of the pre-trained model")
MISTAKES = {
    "hard_prompt": [
        Mistake(*BASE, variant("HardPromptMLM", after_init=_encoder_trainable)),
        Mistake("[CLS] position", "you read the scores at the [CLS] position (index 0); the "
                "label word is predicted at the [MASK]",
                variant("HardPromptMLM", forward=_hard_forward(position=0))),
        Mistake("softmax over the whole vocabulary", "return the label words' logits; the "
                "softmax is over the label words only",
                variant("HardPromptMLM", forward=_hard_forward(probs=True))),
    ],
    "soft_prompt": [
        Mistake("mask not extended", "the attention mask must gain n ones for the prompt",
                variant("SoftPrompt", forward=around(_mask_not_extended))),
        Mistake("prompt masked out", "the prompt's n mask entries must be ones, not zeros",
                variant("SoftPrompt", forward=around(_prompt_masked_out))),
        Mistake("prompt inserted after [CLS]", "prepend the prompt before [CLS], as peft does",
                variant("SoftPrompt", forward=_after_cls)),
        Mistake("embedding kept trainable", "do not keep the model's embedding in the prompt "
                "module: only P trains", variant("SoftPrompt", after_init=_keeps_embedding)),
    ],
    "soft_prompt_mlm": [
        Mistake(*BASE, variant("SoftPromptMLM", after_init=_encoder_trainable)),
        Mistake("wrong [MASK] index", "the [MASK] moved right by n: mask_position(input_ids, "
                "mask_id) + n", variant("SoftPromptMLM", forward=_soft_forward(shift=False))),
        Mistake("softmax over the whole vocabulary", "return the label words' logits; the "
                "softmax is over the label words only",
                variant("SoftPromptMLM", forward=_soft_forward(probs=True))),
        Mistake("the prompt's mask replaced", "run the encoder with the attention mask the "
                "prompt module returns", variant("SoftPromptMLM",
                                                 forward=_soft_forward(own_mask=True))),
    ],
    "p_tuning": [
        Mistake("tanh instead of ReLU", "P-tuning's MLP is Linear-ReLU-Linear-ReLU-Linear",
                variant("PTuningPrompt", after_init=_tanh_mlp)),
        Mistake("MLP not applied", "prompt() should return MLP(P_0), not P_0",
                variant("PTuningPrompt", prompt=lambda self: self.P)),
        Mistake("residual MLP", "prompt() is MLP(P_0), without adding P_0",
                variant("PTuningPrompt", prompt=lambda self: self.P + self.mlp(self.P))),
    ],
    "prefix_encoder": [
        MIXED,
        Mistake("keys and values of a layer not adjacent", "after the view, index 2j is layer "
                "j's keys and 2j+1 its values", variant("PrefixEncoder",
                                                        forward=_keys_values_blocked)),
        Mistake("tokens and heads swapped", "view the rows as (B, n, 2L, H, d_head): the "
                "virtual-token axis comes second", variant("PrefixEncoder",
                                                           forward=_tokens_heads_swapped)),
    ],
    "prefix_hook": [
        Mistake("prefix masked out", "the mask's n new columns must be True",
                variant("prefix_hook", around(_masked_out))),
        Mistake("mask not extended", "the mask must gain n columns for the prefix",
                variant("prefix_hook", _hook_mask_not_extended)),
        Mistake("prefix after the keys", "prepend: [P_k ; K], [P_v ; V]",
                variant("prefix_hook", _hook_prefix_after)),
    ],
    "prefix_tuning": [
        Mistake("prefix only at the input layer", "P-tuning v2 puts a prefix into every layer",
                variant("PrefixTuningMLM", forward=_forward_with(blocks_used=1))),
        Mistake("prefix masked out", "the mask's n new columns must be True",
                variant("PrefixTuningMLM", forward=_forward_with(wrap_hook=_masked_out))),
        Mistake(*BASE, variant("PrefixTuningMLM", after_init=_encoder_trainable)),
        Mistake("hooks left installed", "set every block.attn.kv_hook back to None",
                variant("PrefixTuningMLM", forward=_forward_with(remove=False))),
        Mistake("hooks left after an error", "remove the hooks in a finally: block, so a "
                "forward that fails does not leave them installed",
                variant("PrefixTuningMLM", forward=_hooks_left_on_error())),
    ],
    "prefix_lm": [
        Mistake("prefix only at the input layer", "prefix tuning puts a prefix into every layer",
                variant("PrefixTuningLM", forward=_forward_with(blocks_used=1, net="decoder"))),
        Mistake(*BASE, variant("PrefixTuningLM", after_init=_decoder_trainable)),
        Mistake("hooks left installed", "set every block.attn.kv_hook back to None",
                variant("PrefixTuningLM", forward=_forward_with(remove=False, net="decoder"))),
        Mistake("hooks left after an error", "remove the hooks in a finally: block, so a "
                "forward that fails does not leave them installed",
                variant("PrefixTuningLM", forward=_hooks_left_on_error(net="decoder"))),
    ],
}

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_prefix_tuning": (1, "puts a prefix into every layer"),
}
