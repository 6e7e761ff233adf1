"""Hidden cases of the LoRA notebook (solutions/lora/lora.py): seeded inputs and calls, no answers.

Each case builds its inputs from the seed, calls the student's objects, and returns plain outputs;
the grader runs the same case on the reference and compares. The add_lora case runs add_lora
with a stand-in for LoRALinear, so its points never depend on the student's LoRALinear.
"""

import torch
from torch import nn

from autograde.spec import Case
from course_lib.model import Encoder, TransformerConfig

SHAPES = {0: (6, 5, 2, 4.0), 1: (16, 24, 4, 8.0), 2: (32, 8, 8, 16.0), 3: (12, 12, 1, 1.0)}


def _layer(objects, seed, dropout=0.0):
    d_in, d_out, r, alpha = SHAPES[seed]
    torch.manual_seed(seed)
    base = nn.Linear(d_in, d_out)
    return base, objects["LoRALinear"](base, r=r, alpha=alpha, dropout=dropout)


def _set_lora(layer, seed):
    """Overwrite A and B with seeded values (the student's init is checked separately)."""
    g = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        layer.A.copy_(torch.randn(layer.A.shape, generator=g))
        layer.B.copy_(torch.randn(layer.B.shape, generator=g))


def _input(seed, d_in):
    return torch.randn(2, 3, d_in, generator=torch.Generator().manual_seed(2000 + seed))


def _forward(objects, seed):
    base, layer = _layer(objects, seed)
    x = _input(seed, base.in_features)
    out = {"A_shape": list(layer.A.shape), "B_shape": list(layer.B.shape),
           "B_starts_at_zero": bool(torch.count_nonzero(layer.B) == 0),
           "A_starts_nonzero": bool(torch.count_nonzero(layer.A) > 0),
           "base_frozen": not any(p.requires_grad for p in base.parameters()),
           "trainable": sum(p.numel() for p in layer.parameters() if p.requires_grad)}
    with torch.no_grad():
        out["y_init"] = layer(x)
        _set_lora(layer, seed)
        out["y"] = layer(x)
    _, dropped = _layer(objects, seed, dropout=0.5)
    dropped.train()
    with torch.no_grad():
        out["y_train_dropout_B0"] = dropped(x)
        _set_lora(dropped, seed)
        torch.manual_seed(7 + seed)                 # the same dropout mask as the reference's
        out["y_train_dropout"] = dropped(x)
    return out


def _merge(objects, seed):
    base, layer = _layer(objects, seed)
    _set_lora(layer, seed)
    x = _input(seed, base.in_features)
    with torch.no_grad():
        out = {"delta": layer.get_delta_weight()}
        layer.merge()
        out["W_merged"] = base.weight.clone()
        out["y_merged"] = layer(x)
        layer.merge()
        out["W_merged_twice"] = base.weight.clone()
        layer.unmerge()
        out["W_unmerged"] = base.weight.clone()
        out["y_unmerged"] = layer(x)
    return out


class _Wrapped(nn.Module):
    """What the add_lora case puts in place of the student's LoRALinear: it records how it was
    called and owns one trainable marker, so the case tests add_lora alone (which layers are
    wrapped, with which arguments, what stays frozen), never the student's LoRALinear."""

    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        self.base, self.args = base, (float(r), float(alpha), float(dropout))
        self.marker = nn.Parameter(torch.linspace(-1, 1, base.out_features) * r)

    def forward(self, x):
        return self.base(x) + self.marker


def _add_lora(objects, seed):
    r, alpha = [(4, 8.0), (2, 2.0), (8, 32.0)][seed]
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=60, d_model=16, n_heads=2, n_layers=2 + seed, d_ff=32,
                            max_len=16, dropout=0.0)
    add_lora = objects["add_lora"]
    names = add_lora.__globals__
    saved = names.get("LoRALinear")
    names["LoRALinear"] = _Wrapped                   # add_lora calls the class by its name
    try:
        model = add_lora(Encoder(cfg).eval(), r=r, alpha=alpha)
    finally:
        names["LoRALinear"] = saved
    wrapped = sorted(n for n, m in model.named_modules() if isinstance(m, _Wrapped))
    ids = torch.randint(7, 60, (2, 10), generator=torch.Generator().manual_seed(3000 + seed))
    with torch.no_grad():
        logits = model(input_ids=ids)["logits"]
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    return {"wrapped": wrapped, "logits": logits, "trainable": trainable,
            "args": [list(model.get_submodule(n).args) for n in wrapped]}


def _count(objects, seed):
    args = [(768, 768, 8, 2, 12), (1024, 1024, 8, 2, 24), (64, 256, 4, 1, 3)][seed]
    return {"count": objects["lora_parameter_count"](*args)}


CASES = {
    "forward": Case(_forward, seeds=(0, 1, 2, 3), requires={
        "A_shape": "A has shape (r, in_features)",
        "B_shape": "B has shape (out_features, r)",
        "B_starts_at_zero": "B starts at zero, so W_delta = BA = 0 and training starts at the "
                            "pre-trained function",
        "A_starts_nonzero": "A starts random, not zero",
        "base_frozen": "the base weight W_0 and its bias are frozen",
        "trainable": "only A and B train: r * (in_features + out_features) parameters",
        "y_init": "at initialisation the layer equals the base layer",
        "y": "forward is W_0 x + b + (alpha / r) B A x",
        "y_train_dropout_B0": "in training, dropout never touches W_0 x + b",
        "y_train_dropout": "in training, the LoRA branch is (alpha / r) B A dropout(x): dropout "
                           "on the branch's input"}),
    "merge": Case(_merge, seeds=(0, 1, 2), requires={
        "delta": "get_delta_weight() is (alpha / r) B A, shape (out_features, in_features)",
        "W_merged": "merge() adds (alpha / r) B A to the base weight",
        "y_merged": "after merge() forward does not add the LoRA branch again",
        "W_merged_twice": "merge() twice adds the update once",
        "W_unmerged": "unmerge() subtracts exactly what merge() added",
        "y_unmerged": "after unmerge() forward adds the LoRA branch again"}),
    "add_lora": Case(_add_lora, seeds=(0, 1, 2), requires={
        "wrapped": "W_q and W_v of every block, and nothing else, are wrapped in a LoRALinear",
        "args": "each LoRALinear wraps the original layer with the given r, alpha and dropout",
        "trainable": "every pre-trained parameter is frozen; only the LoRA layers' own "
                     "parameters train",
        "logits": "the model runs the wrapped layers in place of W_q and W_v"}),
    "count": Case(_count, seeds=(0, 1, 2), requires={
        "count": "layers x matrices x r (d + k)"}),
}
