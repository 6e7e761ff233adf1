"""Visible checks for the LoRA notebook (notebooks/lora/lora.ipynb). Properties only, no answers.

The LoRA layer is expected to follow the notebook's interface:
    layer = LoRALinear(base: nn.Linear, r: int, alpha: float, dropout: float = 0.0)
    layer.base, layer.A (r, in_features), layer.B (out_features, r), layer.scaling
    layer.get_delta_weight() -> (out_features, in_features); layer.merge(); layer.unmerge()
"""

from __future__ import annotations

import torch
import torch.nn as nn

from . import (
    CheckFailed,
    call,
    expect,
    expect_close,
    expect_only_new_train,
    expect_shape,
    ok,
    stand_ins,
    tiny_model,
    visible_check,
)


def _make(LoRALinear, d_in=6, d_out=5, r=2, alpha=4.0, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    base = nn.Linear(d_in, d_out)
    try:
        layer = LoRALinear(base, r=r, alpha=alpha, dropout=dropout)
    except NotImplementedError:
        raise
    except Exception as e:
        raise CheckFailed(f"LoRALinear(base, r={r}, alpha={alpha}, dropout={dropout}) failed: "
                          f"{type(e).__name__}: {e}") from e
    return base, layer


def _delta(layer, x):
    """What the LoRA branch adds: layer(x) - base(x)."""
    with torch.no_grad():
        return layer(x) - layer.base(x)


def _copy_lora(src, dst, rank):
    """dst (rank >= src's) acts like src: same W_0, src's A and B in its first `rank` ranks."""
    with torch.no_grad():
        dst.base.load_state_dict(src.base.state_dict())
        dst.A.zero_()
        dst.B.zero_()
        dst.A[:rank] = src.A
        dst.B[:, :rank] = src.B


def _expect_scaled_by_alpha_over_r(LoRALinear, layer, value, measure=None, what="get_delta_weight()"):
    """`measure(layer) == value` scales with alpha / r: it doubles when alpha doubles, and a
    rank-2r layer whose extra ranks are zero, with alpha doubled, gives the same (the layer was
    built by _make, r = 2, alpha = 4)."""
    measure = measure or (lambda m: m.get_delta_weight().detach())
    d_in, d_out, r = layer.A.shape[1], layer.B.shape[0], layer.A.shape[0]
    _, double_alpha = _make(LoRALinear, d_in, d_out, r, alpha=8.0)
    _copy_lora(layer, double_alpha, r)
    expect_close(measure(double_alpha), 2 * value, f"{what} with alpha doubled",
                 hint="your update is not scaled by alpha/r: it should double when alpha does")
    _, wide = _make(LoRALinear, d_in, d_out, 2 * r, alpha=8.0)
    _copy_lora(layer, wide, r)
    expect_close(measure(wide), value, f"{what} with r and alpha both doubled",
                 hint="your update is scaled by alpha, not alpha/r (doubling r and alpha "
                      "should change nothing)")


@visible_check
def check_lora_linear(LoRALinear) -> None:
    d_in, d_out, r = 6, 5, 2
    base, layer = _make(LoRALinear, d_in, d_out, r)
    expect(getattr(layer, "base", None) is base, "keep the wrapped nn.Linear as `self.base`")
    for name in ("A", "B"):
        expect(isinstance(getattr(layer, name, None), nn.Parameter),
               f"`self.{name}` should be an nn.Parameter so the optimizer trains it")
    expect_shape(layer.A, (r, d_in), "A (r x in_features)")
    expect_shape(layer.B, (d_out, r), "B (out_features x r)")
    ok("A is (r, in_features) and B is (out_features, r)")

    expect(not base.weight.requires_grad and (base.bias is None or not base.bias.requires_grad),
           "the base weight W_0 (and its bias) must be frozen: set requires_grad = False")
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    expect(trainable == r * (d_in + d_out),
           f"{trainable} trainable parameters; LoRA trains only A and B: r*(in+out) = "
           f"{r * (d_in + d_out)}")
    ok("only A and B are trainable; W_0 is frozen")

    expect(torch.count_nonzero(layer.B) == 0,
           "B should start at zero, so that W_delta = BA = 0 and training starts at the "
           "pre-trained function")
    expect(torch.count_nonzero(layer.A) > 0,
           "A should start random (kaiming_uniform_ with a=sqrt(5)); if A and B are both zero, "
           "gradients of A and B are zero and nothing trains")
    x = torch.randn(3, 4, d_in)
    with torch.no_grad():
        expect_close(layer(x), base(x), "output at initialisation",
                     hint="with B = 0 the layer must return exactly W_0 x + b")
    ok("at initialisation the layer equals the pre-trained layer")

    with torch.no_grad():
        layer.B.normal_()
    d1 = _delta(layer, x)
    expect(d1.abs().max() > 1e-6, "after setting B != 0 the output did not change: is the LoRA "
                                  "branch B A x added in forward?")
    with torch.no_grad():
        layer.B.mul_(2)
    expect_close(_delta(layer, x), 2 * d1, "the LoRA branch after doubling B",
                 hint="the branch should be linear in B: (alpha/r) B A x")
    with torch.no_grad():
        layer.B.div_(2)

    _expect_scaled_by_alpha_over_r(LoRALinear, layer, d1, lambda m: _delta(m, x),
                                   "the branch")
    ok("the update is scaled by alpha / r")

    _, dropped = _make(LoRALinear, d_in, d_out, r, dropout=0.5)
    dropped.train()
    with torch.no_grad():
        expect_close(dropped(x), dropped.base(x), "output in train mode with dropout=0.5 and B=0",
                     hint="dropout belongs on the LoRA branch's input only, never on W_0 x")
    ok("dropout acts on the LoRA branch only")
    print("All visible LoRALinear checks passed.")


@visible_check
def check_lora_merge(LoRALinear) -> None:
    base, layer = _make(LoRALinear)
    with torch.no_grad():
        layer.B.normal_()
    W0 = base.weight.detach().clone()
    delta = layer.get_delta_weight()
    expect_shape(delta, W0.shape, "get_delta_weight() (out_features x in_features, like W_0)")
    _expect_scaled_by_alpha_over_r(LoRALinear, layer, delta)
    ok("get_delta_weight() is B A scaled by alpha / r")
    x = torch.randn(7, W0.shape[1])
    with torch.no_grad():
        expected = base(x) + x @ delta.T
        expect_close(layer(x), expected, "forward vs W_0 x + b + delta_W x",
                     hint="get_delta_weight() should return (alpha/r) B A, the matrix forward adds")
        before = layer(x)
        layer.merge()
        expect_close(base.weight, W0 + delta, "W_0 after merge()", hint="merge adds (alpha/r) B A")
        expect_close(layer(x), before, "output after merge()",
                     hint="after merging, forward must not add B A x a second time")
        layer.merge()
        expect_close(base.weight, W0 + delta, "W_0 after calling merge() twice",
                     hint="merging twice must not add delta_W twice (keep a `merged` flag)")
        layer.unmerge()
        expect_close(base.weight, W0, "W_0 after unmerge()", atol=1e-6,
                     hint="unmerge subtracts exactly what merge added")
        expect_close(layer(x), before, "output after unmerge()")
    ok("merge() folds get_delta_weight() into W_0 once (a second merge() adds nothing), and "
       "unmerge() restores W_0")
    print("All visible merge checks passed.")


class StandInLoRA(nn.Module):
    """Put in place of your LoRALinear while check_add_lora runs your add_lora: it records its
    arguments and owns one trainable marker (zero: the model computes what it did before), so the
    check depends on add_lora alone. The hidden add_lora case uses it too, with another marker."""

    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        self.base, self.args = base, (r, alpha, dropout)
        self.marker = nn.Parameter(self.start(base.out_features, r))

    def start(self, out_features: int, r) -> torch.Tensor:
        return torch.zeros(out_features)

    def forward(self, x):
        return self.base(x) + self.marker


@visible_check
def check_add_lora(add_lora) -> None:
    model = tiny_model(vocab_size=50, n_layers=3, max_len=12)
    cfg = model.config
    ids = torch.randint(7, 50, (2, 9))
    with torch.no_grad():
        before = model(input_ids=ids)["logits"]
    with stand_ins(add_lora, LoRALinear=StandInLoRA):    # your add_lora calls LoRALinear by name
        out = call("add_lora(model, r=4, alpha=8, dropout=0.1)", add_lora, model, r=4, alpha=8,
                   dropout=0.1)
    expect(out is model, "add_lora should modify the model in place and return it")
    for i, block in enumerate(model.blocks):
        for name in ("W_q", "W_v"):
            layer = getattr(block.attn, name)
            expect(isinstance(layer, StandInLoRA),
                   f"blocks[{i}].attn.{name} is not a LoRALinear (call the class by its name, "
                   f"LoRALinear(layer, r, alpha, dropout))")
            expect(tuple(float(a) for a in layer.args) == (4.0, 8.0, 0.1),
                   f"blocks[{i}].attn.{name} was built with (r, alpha, dropout) = {layer.args}; "
                   f"pass add_lora's own r=4, alpha=8, dropout=0.1")
        for name in ("W_k", "W_o"):
            expect(isinstance(getattr(block.attn, name), nn.Linear),
                   f"blocks[{i}].attn.{name} should stay a plain nn.Linear (the paper adapts "
                   f"W_q and W_v only)")
    ok(f"W_q and W_v of all {cfg.n_layers} layers wrapped with add_lora's r, alpha, dropout")
    frozen_too = "nothing trains: freezing every parameter after wrapping freezes the LoRA matrices too"
    expect_only_new_train(model, "marker", f"{frozen_too}; freeze first, then wrap",
                          freeze="freeze every parameter of the model")
    ok("every pre-trained parameter is frozen; only the LoRA layers' parameters train")
    with torch.no_grad():
        expect_close(model(input_ids=ids)["logits"], before, "the model's output after add_lora",
                     hint="the wrapped layers should run in place of W_q and W_v, on the same "
                          "inputs")
    print("All visible add_lora checks passed.")
