"""Named mistakes of the prompt-tuning notebook (grader only): wrong variants of the reference.

Names follow the course's conventions for soft prompt tuning and prefix tuning. Each variant
subclasses or wraps a reference object (extracted from solutions/prompt_tuning/prompt_tuning.ipynb)
and breaks one thing.
"""

import torch
from torch import nn

from autograde.spec import Mistake
from course_lib.prompts import mask_position

# (solution cell, text in the reference, what a student with a named mistake wrote instead):
# the prefix goes into the first layer only.
WRONG_SUBMISSION = ("prefix_tuning",
                    "for block, P in zip(self.encoder.blocks, past):",
                    "for block, P in zip(self.encoder.blocks[:1], past):")


def _ns(obj):
    """The reference namespace an object was defined in (for prefix_hook)."""
    fn = obj.forward if isinstance(obj, type) else obj
    return fn.__globals__


def _label_logits(self, hidden, positions, probs=False):
    """The label words' MLM logits (or vocabulary probabilities) at positions (B,)."""
    logits = self.encoder.lm_head(hidden[torch.arange(len(positions)), positions])   # (B, V)
    if probs:
        logits = torch.softmax(logits, dim=-1)              # over all V words, not renormalised
    return logits[:, self.label_word_ids]


# ------------------------------------------------------------------------------ hard prompt
def _hard_variant(objects, patch):
    wrong = type("WrongHardPromptMLM", (objects["HardPromptMLM"],), patch)
    return dict(objects, HardPromptMLM=wrong)


def _hard_forward(position=None, probs=False):
    def forward(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              return_logits=False)["hidden"]
        t = mask_position(input_ids, self.mask_id) if position is None else \
            torch.full((len(input_ids),), position)
        return _label_logits(self, hidden, t, probs)
    return {"forward": forward}


def _hard_trainable(objects):
    ref = objects["HardPromptMLM"]
    def __init__(self, encoder, mask_id, label_word_ids):
        ref.__init__(self, encoder, mask_id, label_word_ids)
        for p in encoder.parameters():
            p.requires_grad = True
    return _hard_variant(objects, {"__init__": __init__})


# ------------------------------------------------------------------------------ soft prompt
def _soft_variant(objects, forward):
    wrong = type("WrongSoftPrompt", (objects["SoftPrompt"],), {"forward": forward})
    out = dict(objects, SoftPrompt=wrong)
    return out


def _mask_not_extended(objects):
    ref = objects["SoftPrompt"]
    def forward(self, inputs_embeds, attention_mask):
        x, _ = ref.forward(self, inputs_embeds, attention_mask)
        return x, attention_mask
    return _soft_variant(objects, forward)


def _prompt_masked_out(objects):
    ref = objects["SoftPrompt"]
    def forward(self, inputs_embeds, attention_mask):
        x, mask = ref.forward(self, inputs_embeds, attention_mask)
        mask = mask.clone()
        mask[:, :self.n] = 0
        return x, mask
    return _soft_variant(objects, forward)


def _after_cls(objects):
    def forward(self, inputs_embeds, attention_mask):
        B = inputs_embeds.shape[0]
        P = self.prompt().unsqueeze(0).expand(B, -1, -1)
        x = torch.cat([inputs_embeds[:, :1], P, inputs_embeds[:, 1:]], dim=1)
        ones = attention_mask.new_ones(B, self.n)
        mask = torch.cat([attention_mask[:, :1], ones, attention_mask[:, 1:]], dim=1)
        return x, mask
    return _soft_variant(objects, forward)


def _keeps_embedding(objects):
    ref = objects["SoftPrompt"]
    def __init__(self, embedding, n, init="random", init_ids=None):
        ref.__init__(self, embedding, n, init, init_ids)
        self.embedding = embedding
        embedding.weight.requires_grad = True
    wrong = type("WrongSoftPrompt", (ref,), {"__init__": __init__})
    return dict(objects, SoftPrompt=wrong)


def _mlm_variant(objects, patch):
    return _tuning_variant(objects, patch, "SoftPromptMLM")


def _base_trainable(name):
    """The class `name` with the encoder left trainable after its own __init__."""
    def variant(objects):
        ref = objects[name]

        def __init__(self, encoder, *args):
            ref.__init__(self, encoder, *args)
            for p in encoder.parameters():
                p.requires_grad = True
        return _tuning_variant(objects, {"__init__": __init__}, name)
    return variant


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
    return {"forward": forward}


# ------------------------------------------------------------------------------ P-tuning
def _ptuning_variant(objects, mlp_factory=None, prompt=None):
    ref = objects["PTuningPrompt"]
    patch = {}
    if mlp_factory is not None:
        def __init__(self, embedding, n, hidden, init="random", init_ids=None):
            ref.__init__(self, embedding, n, hidden, init, init_ids)
            self.mlp = mlp_factory(embedding.weight.shape[1], hidden)
        patch["__init__"] = __init__
    if prompt is not None:
        patch["prompt"] = prompt
    return dict(objects, PTuningPrompt=type("WrongPTuningPrompt", (ref,), patch))


def _tanh_mlp(objects):
    return _ptuning_variant(objects, lambda d, h: nn.Sequential(
        nn.Linear(d, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, d)))


def _mlp_unused(objects):
    return _ptuning_variant(objects, prompt=lambda self: self.P)


def _residual_mlp(objects):
    return _ptuning_variant(objects, prompt=lambda self: self.P + self.mlp(self.P))


# ------------------------------------------------------------------------------ prefix encoder
def _prefix_variant(objects, forward):
    ref = objects["PrefixEncoder"]
    return dict(objects, PrefixEncoder=type("WrongPrefixEncoder", (ref,), {"forward": forward}))


def _rows(self):
    ids = torch.arange(self.n, device=self.embedding.weight.device)
    pkv = self.embedding(ids)
    return self.transform(pkv) if self.projection else pkv


def _heads_layers_mixed(objects):
    def forward(self, batch_size):
        B, H = batch_size, self.n_heads
        pkv = _rows(self).unsqueeze(0).expand(B, -1, -1)
        pkv = pkv.reshape(B, self.n, H, 2 * self.n_layers, self.d_model // H)
        return pkv.permute(3, 0, 2, 1, 4).split(2)
    return _prefix_variant(objects, forward)


def _keys_values_blocked(objects):
    """All keys of all layers first, then all values: (2, L) instead of (L, 2)."""
    def forward(self, batch_size):
        B, H, L = batch_size, self.n_heads, self.n_layers
        pkv = _rows(self).unsqueeze(0).expand(B, -1, -1)
        pkv = pkv.reshape(B, self.n, 2, L, H, self.d_model // H)
        pkv = pkv.permute(3, 2, 0, 4, 1, 5)                  # (L, 2, B, H, n, dh)
        return tuple(pkv.unbind(0))
    return _prefix_variant(objects, forward)


def _tokens_heads_swapped(objects):
    def forward(self, batch_size):
        B, H = batch_size, self.n_heads
        pkv = _rows(self).unsqueeze(0).expand(B, -1, -1)
        pkv = pkv.reshape(B, H, 2 * self.n_layers, self.n, self.d_model // H)
        return pkv.permute(2, 0, 1, 3, 4).split(2)
    return _prefix_variant(objects, forward)


# ------------------------------------------------------------------------------ prefix hook
def _hook_variant(objects, make):
    return dict(objects, prefix_hook=make)


def _masked_out_hook(ref):
    def make(P_k, P_v):
        inner = ref(P_k, P_v)
        def hook(k, v, attn_mask):
            k, v, m = inner(k, v, attn_mask)
            if m is not None:
                m = m.clone()
                m[..., :P_k.shape[2]] = False
            return k, v, m
        return hook
    return make


def _hook_masked_out(objects):
    return _hook_variant(objects, _masked_out_hook(objects["prefix_hook"]))


def _hook_mask_not_extended(objects):
    def make(P_k, P_v):
        def hook(k, v, attn_mask):
            return torch.cat([P_k, k], 2), torch.cat([P_v, v], 2), attn_mask
        return hook
    return _hook_variant(objects, make)


def _hook_prefix_after(objects):
    def make(P_k, P_v):
        def hook(k, v, attn_mask):
            if attn_mask is not None:
                ones = attn_mask.new_ones(*attn_mask.shape[:-1], P_k.shape[2])
                attn_mask = torch.cat([attn_mask, ones], -1)
            return torch.cat([k, P_k], 2), torch.cat([v, P_v], 2), attn_mask
        return hook
    return _hook_variant(objects, make)


# ------------------------------------------------------------------------------ prefix tuning
def _tuning_variant(objects, patch, name="PrefixTuningMLM"):
    ref = objects[name]
    return dict(objects, **{name: type("Wrong" + name, (ref,), patch)})


def _forward_with(hook_factory, blocks_used=None, remove=True, net="encoder"):
    def forward(self, input_ids, attention_mask=None):
        g = _ns(type(self).__mro__[1])
        past = self.prefix_encoder(input_ids.shape[0])
        model = getattr(self, net)
        blocks = list(model.blocks)
        for block, P in list(zip(blocks, past))[:blocks_used]:
            block.attn.kv_hook = (hook_factory or g["prefix_hook"])(P[0], P[1])
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


def _input_layer_only(objects, name="PrefixTuningMLM", net="encoder"):
    return _tuning_variant(objects, {"forward": _forward_with(None, 1, net=net)}, name)


def _tuning_masked_out(objects):
    make = _masked_out_hook(_ns(objects["PrefixTuningMLM"])["prefix_hook"])
    return _tuning_variant(objects, {"forward": _forward_with(make)})


def _hooks_left(objects, name="PrefixTuningMLM", net="encoder"):
    return _tuning_variant(objects, {"forward": _forward_with(None, remove=False, net=net)}, name)


def _hooks_left_on_error(objects, name="PrefixTuningMLM", net="encoder"):
    """Removes the hooks after a forward that succeeds, but not in a finally: block."""
    inner = _forward_with(None, net=net)
    def forward(self, input_ids, attention_mask=None):
        model = getattr(self, net)
        past = self.prefix_encoder(input_ids.shape[0])
        g = _ns(type(self).__mro__[1])
        for block, P in zip(model.blocks, past):
            block.attn.kv_hook = g["prefix_hook"](P[0], P[1])
        model(input_ids=input_ids, attention_mask=attention_mask)     # raises before removal
        return inner(self, input_ids, attention_mask)
    return _tuning_variant(objects, {"forward": forward}, name)


def _base_trainable_lm(objects):
    ref = objects["PrefixTuningLM"]
    def __init__(self, decoder, prefix_encoder):
        ref.__init__(self, decoder, prefix_encoder)
        for p in decoder.parameters():
            p.requires_grad = True
    return _tuning_variant(objects, {"__init__": __init__}, "PrefixTuningLM")


MIXED = Mistake("wrong permute (mixes heads and layers)", "view the rows as (B, n, 2L, H, "
                "d_head) and permute to (2L, B, H, n, d_head): your layout mixes heads and "
                "layers", _heads_layers_mixed)
BASE = ("base weights left trainable", "freeze every parameter of the pre-trained model")
MISTAKES = {
    "hard_prompt": [
        Mistake(*BASE, _hard_trainable),
        Mistake("[CLS] position", "you read the scores at the [CLS] position (index 0); the "
                "label word is predicted at the [MASK]",
                lambda o: _hard_variant(o, _hard_forward(position=0))),
        Mistake("softmax over the whole vocabulary", "return the label words' logits; the "
                "softmax is over the label words only",
                lambda o: _hard_variant(o, _hard_forward(probs=True))),
    ],
    "soft_prompt": [
        Mistake("mask not extended", "the attention mask must gain n ones for the prompt",
                _mask_not_extended),
        Mistake("prompt masked out", "the prompt's n mask entries must be ones, not zeros",
                _prompt_masked_out),
        Mistake("prompt inserted after [CLS]", "prepend the prompt before [CLS], as peft does",
                _after_cls),
        Mistake("embedding kept trainable", "do not keep the model's embedding in the prompt "
                "module: only P trains", _keeps_embedding),
    ],
    "soft_prompt_mlm": [
        Mistake(*BASE, _base_trainable("SoftPromptMLM")),
        Mistake("wrong [MASK] index", "the [MASK] moved right by n: mask_position(input_ids, "
                "mask_id) + n", lambda o: _mlm_variant(o, _soft_forward(shift=False))),
        Mistake("softmax over the whole vocabulary", "return the label words' logits; the "
                "softmax is over the label words only",
                lambda o: _mlm_variant(o, _soft_forward(probs=True))),
        Mistake("the prompt's mask replaced", "run the encoder with the attention mask the "
                "prompt module returns", lambda o: _mlm_variant(o, _soft_forward(own_mask=True))),
    ],
    "p_tuning": [
        Mistake("tanh instead of ReLU", "P-tuning's MLP is Linear-ReLU-Linear-ReLU-Linear",
                _tanh_mlp),
        Mistake("MLP not applied", "prompt() should return MLP(P_0), not P_0", _mlp_unused),
        Mistake("residual MLP", "prompt() is MLP(P_0), without adding P_0", _residual_mlp),
    ],
    "prefix_encoder": [
        MIXED,
        Mistake("keys and values of a layer not adjacent", "after the view, index 2j is layer "
                "j's keys and 2j+1 its values", _keys_values_blocked),
        Mistake("tokens and heads swapped", "view the rows as (B, n, 2L, H, d_head): the "
                "virtual-token axis comes second", _tokens_heads_swapped),
    ],
    "prefix_hook": [
        Mistake("prefix masked out", "the mask's n new columns must be True", _hook_masked_out),
        Mistake("mask not extended", "the mask must gain n columns for the prefix",
                _hook_mask_not_extended),
        Mistake("prefix after the keys", "prepend: [P_k ; K], [P_v ; V]", _hook_prefix_after),
    ],
    "prefix_tuning": [
        Mistake("prefix only at the input layer", "P-tuning v2 puts a prefix into every layer",
                _input_layer_only),
        Mistake("prefix masked out", "the mask's n new columns must be True", _tuning_masked_out),
        Mistake(*BASE, _base_trainable("PrefixTuningMLM")),
        Mistake("hooks left installed", "set every block.attn.kv_hook back to None",
                _hooks_left),
        Mistake("hooks left after an error", "remove the hooks in a finally: block, so a "
                "forward that fails does not leave them installed", _hooks_left_on_error),
    ],
    "prefix_lm": [
        Mistake("prefix only at the input layer", "prefix tuning puts a prefix into every layer",
                lambda o: _input_layer_only(o, "PrefixTuningLM", "decoder")),
        Mistake(*BASE, _base_trainable_lm),
        Mistake("hooks left installed", "set every block.attn.kv_hook back to None",
                lambda o: _hooks_left(o, "PrefixTuningLM", "decoder")),
        Mistake("hooks left after an error", "remove the hooks in a finally: block, so a "
                "forward that fails does not leave them installed",
                lambda o: _hooks_left_on_error(o, "PrefixTuningLM", "decoder")),
    ],
}

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_prefix_tuning": (1, "puts a prefix into every layer"),
}
