"""The LoRA reference solution (solutions/lora/lora.ipynb) against peft's LoRA layer and a naive formula."""

import copy
import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn


ROOT = Path(__file__).resolve().parents[2]


def _pair(ref, d_in=12, d_out=10, r=4, alpha=8.0, seed=0):
    torch.manual_seed(seed)
    base = nn.Linear(d_in, d_out)
    ours = ref["LoRALinear"](copy.deepcopy(base), r=r, alpha=alpha)
    with torch.no_grad():
        ours.A.normal_()
        ours.B.normal_()
    return base, ours


def test_forward_equals_naive_formula(ref):
    base, ours = _pair(ref)
    x = torch.randn(3, 5, 12)
    W0, b, A, B = base.weight, base.bias, ours.A, ours.B
    naive = torch.einsum("oi,bti->bto", W0, x) + b + (8.0 / 4) * torch.einsum(
        "or,ri,bti->bto", B, A, x)
    torch.testing.assert_close(ours(x), naive, atol=1e-5, rtol=1e-4)


def test_init_follows_peft(ref):
    torch.manual_seed(0)
    layer = ref["LoRALinear"](nn.Linear(64, 32), r=8, alpha=16)
    assert torch.count_nonzero(layer.B) == 0
    bound = 1 / math.sqrt(64)                    # kaiming_uniform_(a=sqrt(5)) on fan_in = 64
    assert layer.A.abs().max() <= bound and layer.A.abs().max() > 0.8 * bound


def test_against_peft_layer(ref):
    lora = pytest.importorskip("peft.tuners.lora", reason="peft is a dev dependency (pip install -e .[dev])")
    base, ours = _pair(ref, r=4, alpha=8.0)
    config = lora.LoraConfig(r=4, lora_alpha=8.0, lora_dropout=0.0)
    theirs = lora.Linear(copy.deepcopy(base), adapter_name="default", config=config, r=4,
                         lora_alpha=8.0, lora_dropout=0.0)
    with torch.no_grad():
        theirs.lora_A["default"].weight.copy_(ours.A)
        theirs.lora_B["default"].weight.copy_(ours.B)
    x = torch.randn(7, 12)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ours.get_delta_weight(), theirs.get_delta_weight("default"),
                               atol=1e-6, rtol=1e-5)
    with torch.no_grad():
        ours.merge()
        theirs.merge()
    torch.testing.assert_close(ours.base.weight, theirs.base_layer.weight, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        ours.unmerge()
        theirs.unmerge()
    torch.testing.assert_close(ours.base.weight, base.weight, atol=1e-6, rtol=1e-5)


def test_rslora_scaling_differs(ref):
    """Sanity of the comparison itself: peft's rsLoRA (alpha/sqrt(r)) must NOT match alpha/r."""
    lora = pytest.importorskip("peft.tuners.lora", reason="peft is a dev dependency")
    base, ours = _pair(ref, r=4, alpha=8.0)
    config = lora.LoraConfig(r=4, lora_alpha=8.0, use_rslora=True)
    theirs = lora.Linear(copy.deepcopy(base), adapter_name="default", config=config, r=4,
                         lora_alpha=8.0, use_rslora=True)
    with torch.no_grad():
        theirs.lora_A["default"].weight.copy_(ours.A)
        theirs.lora_B["default"].weight.copy_(ours.B)
    x = torch.randn(7, 12)
    assert not torch.allclose(ours(x), theirs(x), atol=1e-3)


def test_add_lora_trainable_count(ref):
    from course_lib.model import Encoder, TransformerConfig
    cfg = TransformerConfig(vocab_size=50, d_model=32, n_heads=4, n_layers=3, d_ff=64, max_len=16)
    model = ref["add_lora"](Encoder(cfg), r=4, alpha=8)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == ref["lora_parameter_count"](32, 32, 4, 2, 3) == 3 * 2 * 4 * 64
    assert ref["lora_parameter_count"](768, 768, 8, 2, 12) == 294_912      # the lecture's 0.3M


CHECKS = {"forward": ("LoRALinear", "check_lora_linear"), "merge": ("LoRALinear", "check_lora_merge"),
          "add_lora": ("add_lora", "check_add_lora")}


@pytest.mark.parametrize("case", sorted(CHECKS))
def test_visible_checks_pass_the_reference_and_catch_each_mistake(ref, case):
    """Each visible check passes the reference and fails on every named mistake of its case
    (check_add_lora runs add_lora with its stand-in, never with LoRALinear): check_lora_merge
    ticks "scaled by alpha / r" only after testing it, so alpha in place of alpha/r fails it."""
    from autograde.spec import mistakes_module
    from course_lib.checks import CheckFailed
    from course_lib.checks import lora as checks
    name, check = CHECKS[case]
    getattr(checks, check)(ref[name])
    for mistake in mistakes_module("lora").MISTAKES[case]:
        with pytest.raises(CheckFailed):
            getattr(checks, check)(mistake.make(dict(ref))[name])
