"""Visible checks for the adapters notebook (notebooks/adapters/adapters.ipynb). Properties only, no answers.

The notebook's interface:
    adapter = Adapter(d: int, reduction: int = 16)
    adapter.m == d // reduction; adapter.W_down = nn.Linear(d, m); adapter.W_up = nn.Linear(m, d)
    adapter(h) = h + W_up f(W_down h + b_down) + b_up, f = ReLU; Houlsby init (trunc. normal,
    std 1e-2, cut at 2 std; zero biases)
    add_adapters(model, reduction) -> model; task_state(model) -> dict; load_task_state(model, s)
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


def _make(Adapter, d, reduction, seed=0):
    torch.manual_seed(seed)
    try:
        return Adapter(d, reduction)
    except NotImplementedError:
        raise
    except Exception as e:
        raise CheckFailed(f"Adapter({d}, {reduction}) failed: {type(e).__name__}: {e}") from e


def _linears(adapter, d, m):
    for name in ("W_down", "W_up"):
        expect(isinstance(getattr(adapter, name, None), nn.Linear),
               f"`self.{name}` should be an nn.Linear")
    expect_shape(adapter.W_down.weight, (m, d), "W_down.weight (m x d)")
    expect_shape(adapter.W_up.weight, (d, m), "W_up.weight (d x m)")
    expect(adapter.W_down.bias is not None and adapter.W_up.bias is not None,
           "both projections have a bias (b_down and b_up)")


@visible_check
def check_adapter_init(Adapter) -> None:
    d, reduction = 256, 8
    m = d // reduction
    adapter = _make(Adapter, d, reduction)
    expect(getattr(adapter, "m", None) == m, f"self.m should be d // reduction = {m}")
    _linears(adapter, d, m)
    ok(f"W_down is (m, d) = ({m}, {d}) and W_up is (d, m)")

    n = sum(p.numel() for p in adapter.parameters() if p.requires_grad)
    expect(n == 2 * d * m + d + m, f"{n} trainable parameters; an adapter has W_down, b_down, "
                                   f"W_up, b_up: 2dm + d + m = {2 * d * m + d + m}")
    ok(f"{n:,} trainable parameters = 2dm + d + m")

    for name in ("W_down", "W_up"):
        layer = getattr(adapter, name)
        expect(torch.count_nonzero(layer.bias) == 0,
               f"{name}.bias should start at zero (Houlsby's initialisation)")
        w = layer.weight.detach()
        expect(w.abs().max() <= 2e-2 + 1e-7,
               f"{name}.weight has entries up to {w.abs().max():.3g}: that is nn.Linear's default "
               "init, not near-identity. Use trunc_normal_(w, std=1e-2, a=-2e-2, b=2e-2)")
        expect(torch.count_nonzero(w) > 0,
               f"{name}.weight is all zero: Houlsby's init draws small random weights "
               "(std 1e-2); with both matrices zero no gradient reaches either")
        expect(0.006 < w.std().item() < 0.011,
               f"{name}.weight has standard deviation {w.std():.3g}; a normal with std 1e-2 "
               "truncated at two standard deviations has about 0.0088")
    ok("weights: truncated normal with std 1e-2 (|w| <= 0.02); biases zero")

    h = torch.randn(4, 7, d)
    with torch.no_grad():
        rel = ((adapter(h) - h).norm() / h.norm()).item()
    expect(rel < 0.05, f"at initialisation the adapter changes its input by {rel:.1%}; with "
                       "small weights and the internal skip it should be close to the identity")
    ok(f"at initialisation the adapter is close to the identity (changes h by {rel:.2%})")


@visible_check
def check_adapter_forward(Adapter) -> None:
    d, reduction = 12, 3
    m = d // reduction
    adapter = _make(Adapter, d, reduction)
    _linears(adapter, d, m)
    h = torch.randn(2, 5, d)
    with torch.no_grad():
        out = adapter(h)
        expect_shape(out, h.shape, "adapter(h) (same shape as h)")
        adapter.W_up.weight.zero_()
        adapter.W_up.bias.zero_()
        out0 = adapter(h)
    expect(out0.abs().max() > 0, "with W_up = 0 and b_up = 0 your adapter returns zeros: the "
                                 "internal skip connection is missing (return h + ...)")
    expect_close(out0, h, "adapter(h) with W_up = 0, b_up = 0",
                 hint="with the up-projection zero the adapter must return h exactly")
    ok("internal skip: with W_up = 0 the adapter is exactly the identity")

    # hand-computed: W_down = 0, so z = f(b_down); then out = h + W_up f(b_down) + b_up
    with torch.no_grad():
        adapter.W_down.weight.zero_()
        adapter.W_up.weight.copy_(torch.arange(d * m, dtype=torch.float).view(d, m) / (d * m))
        adapter.W_up.bias.fill_(0.5)
        adapter.W_down.bias.fill_(-1.0)                  # f(-1) = ReLU(-1) = 0
        neg = adapter(h)
        adapter.W_down.bias.fill_(2.0)                   # f(2) = 2
        pos = adapter(h)
    expect_close(neg, h + 0.5, "adapter(h) with W_down = 0, b_down = -1, b_up = 0.5",
                 hint="f(W_down h + b_down) with f = ReLU is 0 here, so the adapter should add "
                      "just b_up. Did you apply the nonlinearity f = ReLU (or forget b_down)?")
    expected = h + 2.0 * adapter.W_up.weight.detach().sum(1) + 0.5
    expect_close(pos, expected, "adapter(h) with W_down = 0, b_down = 2, b_up = 0.5",
                 hint="expected h + W_up (2, ..., 2) + b_up")
    ok("h + W_up ReLU(W_down h + b_down) + b_up on a hand-computed example")

    with torch.no_grad():
        x2 = torch.randn(3, d)
        expect_shape(adapter(x2), (3, d), "adapter on a 2-D input (N, d)")
    ok("works on inputs of shape (..., d)")
    print("All visible Adapter checks passed.")


@visible_check
def check_adapter_count(adapter_parameter_count) -> None:
    n = adapter_parameter_count(768, 64, 1, per_layer=1)
    expect(isinstance(n, int), f"return an int, got {type(n).__name__}")
    expect(n != 2 * 768 * 64, "you counted W_down and W_up but not the biases b_down, b_up")
    expect(n == 99_136, f"one adapter with d = 768, m = 64 has 99,136 parameters, you got {n:,}")
    ok("one adapter, d = 768, m = 64: 99,136 parameters")
    big = adapter_parameter_count(1024, 64, 24)
    expect(big == 2 * adapter_parameter_count(1024, 64, 24, per_layer=1),
           "per_layer=2 means two adapters in each layer (after attention and after the FFN)")
    ok(f"RoBERTa-large, Houlsby, m = 64: {big / 1e6:.1f}M; m = 8: "
       f"{adapter_parameter_count(1024, 8, 24) / 1e6:.1f}M. The lecture's table gives 6.0M and "
       f"0.8M without stating m: m = 8 gives its 0.8M, and m = 64 a little more than its 6.0M "
       f"(6.0M is m = 61 by this formula)")


class StandInAdapter(nn.Module):
    """Put in place of your Adapter while check_add_adapters runs your add_adapters: it records
    its arguments and computes s h + c (s = 1, c = 0 at first; c trainable), so the check
    depends on add_adapters alone (where the adapters go, what is frozen), never on your
    Adapter. The hidden add_adapters case uses it too, with another s and c."""

    SCALE = 1.0

    def __init__(self, d, reduction=16):
        super().__init__()
        self.args = (d, reduction)
        self.s = self.SCALE
        self.c = nn.Parameter(self.start(d))

    def start(self, d: int) -> torch.Tensor:
        return torch.zeros(d)

    def forward(self, h):
        return self.s * h + self.c


@visible_check
def check_add_adapters(add_adapters) -> None:
    model = tiny_model(vocab_size=50, n_layers=3, max_len=12)
    cfg = model.config
    norms = [b.ln_1 for b in model.blocks]
    with stand_ins(add_adapters, Adapter=StandInAdapter):    # your add_adapters calls Adapter by name
        out = call("add_adapters(model, reduction=4)", add_adapters, model, reduction=4)
    expect(out is model, "add_adapters should modify the model in place and return it")
    for i, block in enumerate(model.blocks):
        expect(block.ln_1 is norms[i] and isinstance(block.ln_1, nn.LayerNorm),
               f"blocks[{i}].ln_1 was replaced: adapters go on the sub-layer's output "
               "(block.after_attn / block.after_ffn), not after the LayerNorm")
        for slot in ("after_attn", "after_ffn"):
            adapter = getattr(block, slot)
            expect(isinstance(adapter, StandInAdapter),
                   f"blocks[{i}].{slot} is not an Adapter (call the class by its name, "
                   f"Adapter(d, reduction)): put one after attention and one after the "
                   "feed-forward block")
            expect(adapter.args == (cfg.d_model, 4), f"blocks[{i}].{slot} was built as Adapter"
                   f"{adapter.args}; pass d = model.config.d_model and add_adapters' reduction")
    expect(len({id(getattr(b, s)) for b in model.blocks for s in ("after_attn", "after_ffn")})
           == 2 * cfg.n_layers, "each slot needs its own new Adapter (not one shared module)")
    ok(f"an Adapter(d, reduction) in after_attn and after_ffn of all {cfg.n_layers} blocks")
    expect_only_new_train(
        model, ".c", nothing="nothing trains: freezing every parameter after inserting the "
                             "adapters freezes them too; freeze first, then insert",
        freeze="freeze every parameter of the model (embeddings, attention, FFN, LayerNorms)")
    ok("the base is frozen; only the adapters train")

    # on the sub-layer's output, before the residual add: each adapter maps u to 2 u + 0.25
    with torch.no_grad():
        for b in model.blocks:
            for s in ("after_attn", "after_ffn"):
                getattr(b, s).c.fill_(0.25)
                getattr(b, s).s = 2.0
        x = torch.randn(2, 5, cfg.d_model)
        block = model.blocks[0]
        got = block(x)
        h = x + 2 * block.attn(block.ln_1(x)) + 0.25
        want = h + 2 * block.ffn(block.ln_2(h)) + 0.25
    expect_close(got, want, "a block whose adapters map u to 2 u + 0.25",
                 hint="each adapter should act on the sub-layer's output before the residual "
                      "add: x + Adapter(Attn(LN(x))), then x + Adapter(FFN(LN(x)))")
    ok("adapters sit on each sub-layer's output, before the residual add")
    print("All visible add_adapters checks passed.")


@visible_check
def check_task_state(task_state, load_task_state) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model[0].weight.requires_grad = False
    model[0].bias.requires_grad = False
    state = task_state(model)
    expect(isinstance(state, dict), f"task_state should return a dict, got {type(state).__name__}")
    expect(sorted(state) == ["2.bias", "2.weight"],
           f"task_state returned {sorted(state)}; keep only the trainable parameters, named as in "
           "model.named_parameters() (here ['2.bias', '2.weight'])")
    ok("task_state keeps exactly the trainable parameters")
    with torch.no_grad():
        model[2].weight.add_(1.0)
    expect(not torch.equal(state["2.weight"], model[2].weight),
           "changing the model changed the saved state: store copies (.detach().clone())")
    ok("the state holds copies, not the live parameters")
    x = torch.randn(5, 4)
    load_task_state(model, state)
    expect(torch.equal(model[2].weight, state["2.weight"]),
           "load_task_state did not copy the saved tensors back into the parameters")
    expect(model[2].weight.requires_grad, "load_task_state must not freeze anything")
    with torch.no_grad():
        y = model(x)
    expect(torch.isfinite(y).all(), "the model's output is not finite after load_task_state")
    try:
        load_task_state(model, {"9.weight": torch.zeros(1)})
    except KeyError:
        pass
    except Exception as e:
        raise CheckFailed(f"an unknown name should raise KeyError, got {type(e).__name__}") from e
    else:
        raise CheckFailed("load_task_state accepted a name the model does not have: raise "
                          "a KeyError naming it")
    ok("load_task_state restores a saved state and rejects unknown names")
