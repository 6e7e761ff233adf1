"""Hidden cases of the LoRA notebook (solutions/lora.py): seeded inputs and calls, no answers.

Each case builds its inputs from the seed, calls the student's objects, and returns plain outputs;
the grader runs the same case on the reference and compares.
"""

import torch
from torch import nn

from autograde.hidden import Case
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


def _add_lora(objects, seed):
    r, alpha = [(4, 8.0), (2, 2.0), (8, 32.0)][seed]
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=60, d_model=16, n_heads=2, n_layers=2 + seed, d_ff=32,
                            max_len=16, dropout=0.0)
    model = objects["add_lora"](Encoder(cfg).eval(), r=r, alpha=alpha)
    lora_cls = objects["LoRALinear"]
    wrapped = sorted(n for n, m in model.named_modules() if isinstance(m, lora_cls))
    g = torch.Generator().manual_seed(3000 + seed)
    with torch.no_grad():
        for name in wrapped:
            m = model.get_submodule(name)
            m.A.copy_(torch.randn(m.A.shape, generator=g))
            m.B.copy_(torch.randn(m.B.shape, generator=g) * 0.1)
        ids = torch.randint(7, 60, (2, 10), generator=g)
        logits = model(input_ids=ids)["logits"]
    return {"wrapped": wrapped, "logits": logits,
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def _count(objects, seed):
    args = [(768, 768, 8, 2, 12), (1024, 1024, 8, 2, 24), (64, 256, 4, 1, 3)][seed]
    return {"count": objects["lora_parameter_count"](*args)}


CASES = {
    "forward": Case(_forward, seeds=(0, 1, 2, 3), requires={
        "A_shape": "A should be (r, in_features)",
        "B_shape": "B should be (out_features, r)",
        "B_starts_at_zero": "B must start at zero so W_delta = BA = 0 at the start",
        "A_starts_nonzero": "A must start random (kaiming_uniform_), not zero",
        "base_frozen": "the base weight W_0 and its bias must be frozen",
        "trainable": "only A and B train: r * (in_features + out_features) parameters",
        "y_init": "at initialisation the layer must equal the base layer",
        "y": "forward should be W_0 x + b + (alpha / r) B A x",
        "y_train_dropout_B0": "dropout belongs on the LoRA branch's input only"}),
    "merge": Case(_merge, seeds=(0, 1, 2), requires={
        "delta": "get_delta_weight() is (alpha / r) B A, shape (out_features, in_features)",
        "W_merged": "merge() adds (alpha / r) B A to the base weight",
        "y_merged": "after merge() forward must not add the LoRA branch again",
        "W_merged_twice": "merge() twice must not add the update twice",
        "W_unmerged": "unmerge() subtracts exactly what merge() added",
        "y_unmerged": "after unmerge() forward adds the LoRA branch again"}),
    "add_lora": Case(_add_lora, seeds=(0, 1, 2), requires={
        "wrapped": "wrap W_q and W_v (and only them) of every block",
        "trainable": "freeze every pre-trained parameter first; only A and B train",
        "logits": "the wrapped model's output differs from the reference"}),
    "count": Case(_count, seeds=(0, 1, 2), requires={
        "count": "layers x matrices x r (d + k)"}),
}
