"""The adapters and BitFit reference solutions against naive implementations and formulas.

No production library is compared here: peft has no bottleneck adapter, and AdapterHub's
`adapters` package (1.3) does not import with transformers 5 (it needs huggingface_hub.HfFolder).
The references below are written independently of the notebooks: an explicit loop over tokens for
the adapter, a block forward written out by hand for the placement, a bias count by module type.
"""

import math
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograde.build.reference import reference_namespace
from course_lib.model import CLSClassifier, Encoder, TransformerConfig

ROOT = Path(__file__).resolve().parents[2]


def _read(name):
    return nbformat.read(ROOT / "solutions" / f"{name}" / f"{name}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def ref():
    return reference_namespace(_read("adapters"))


@pytest.fixture(scope="module")
def bitfit_ref():
    return reference_namespace(_read("peft_comparison"))


def _tiny_encoder(n_layers=2, d=16, seed=0):
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=50, d_model=d, n_heads=2, n_layers=n_layers, d_ff=32,
                            max_len=16, dropout=0.0)
    return Encoder(cfg).eval()


def test_adapter_equals_token_loop(ref):
    torch.manual_seed(0)
    adapter = ref["Adapter"](24, 4)
    with torch.no_grad():
        for p in adapter.parameters():
            p.normal_()
    h = torch.randn(2, 5, 24)
    Wd, bd = adapter.W_down.weight, adapter.W_down.bias
    Wu, bu = adapter.W_up.weight, adapter.W_up.bias
    naive = torch.empty_like(h)
    for b in range(2):
        for t in range(5):
            z = [max(0.0, sum(Wd[i, j].item() * h[b, t, j].item() for j in range(24)) + bd[i].item())
                 for i in range(6)]
            for o in range(24):
                naive[b, t, o] = h[b, t, o] + sum(Wu[o, i].item() * z[i] for i in range(6)) + bu[o]
    with torch.no_grad():
        torch.testing.assert_close(adapter(h), naive, atol=1e-5, rtol=1e-4)


def test_houlsby_init(ref):
    torch.manual_seed(0)
    adapter = ref["Adapter"](768, 12)                      # m = 64
    assert adapter.m == 64
    for layer in (adapter.W_down, adapter.W_up):
        w = layer.weight.detach()
        assert w.abs().max() <= 2e-2
        # a standard normal truncated to [-2, 2] has std sqrt(1 - 4 phi(2) / (2 Phi(2) - 1))
        phi2 = math.exp(-2) / math.sqrt(2 * math.pi)
        std = 1e-2 * math.sqrt(1 - 2 * 2 * phi2 / math.erf(2 / math.sqrt(2)))
        assert abs(w.std().item() - std) < 0.03 * std
        assert torch.count_nonzero(layer.bias) == 0


def test_adapter_parameter_count(ref):
    a = ref["Adapter"](768, 12)
    assert sum(p.numel() for p in a.parameters()) == 99_136 == ref["adapter_parameter_count"](768, 64, 1, 1)
    assert ref["adapter_parameter_count"](768, 64, 12) == 12 * 2 * 99_136
    assert round(ref["adapter_parameter_count"](1024, 8, 24) / 1e5) == 8      # the table's 0.8M


def test_add_adapters_placement_matches_hand_written_block(ref):
    model = ref["add_adapters"](_tiny_encoder(n_layers=3), reduction=4)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(std=0.3)
    assert {n.split(".")[-3] for n, p in model.named_parameters() if p.requires_grad} == {
        "after_attn", "after_ffn"}

    def adapter(a, x):                                     # written out, not the module
        return x + F.relu(x @ a.W_down.weight.T + a.W_down.bias) @ a.W_up.weight.T + a.W_up.bias

    ids = torch.randint(5, 50, (2, 9))
    with torch.no_grad():
        x = model.embed(model.embed.tok(ids), torch.arange(9)[None].expand(2, 9))
        for blk in model.blocks:
            x = x + adapter(blk.after_attn, blk.attn(blk.ln_1(x)))
            x = x + adapter(blk.after_ffn, blk.ffn(blk.ln_2(x)))
        want = model.lm_head(model.ln_f(x))
        torch.testing.assert_close(model(input_ids=ids)["logits"], want, atol=1e-5, rtol=1e-4)


def test_zero_up_projection_gives_the_base_model(ref):
    base = _tiny_encoder()
    ids = torch.randint(5, 50, (3, 8))
    with torch.no_grad():
        want = base(input_ids=ids)["logits"]
    model = ref["add_adapters"](base, reduction=2)
    with torch.no_grad():
        for blk in model.blocks:
            for a in (blk.after_attn, blk.after_ffn):
                a.W_up.weight.zero_()
        torch.testing.assert_close(model(input_ids=ids)["logits"], want, atol=0, rtol=0)


def test_task_state_round_trip(ref):
    clf = CLSClassifier(ref["add_adapters"](_tiny_encoder(), reduction=4), num_labels=3)
    state = ref["task_state"](clf)
    assert set(state) == {n for n, p in clf.named_parameters() if p.requires_grad}
    ids = torch.randint(5, 50, (2, 7))
    with torch.no_grad():
        want = clf(input_ids=ids)
        for p in clf.parameters():
            p.add_(0.1)
    ref["load_task_state"](clf, state)
    with torch.no_grad():
        got = clf(input_ids=ids)
    # only the trainable parameters were restored; the frozen ones stay shifted
    assert not torch.allclose(got, want)
    with torch.no_grad():
        for p in clf.parameters():
            if not p.requires_grad:
                p.sub_(0.1)
        torch.testing.assert_close(clf(input_ids=ids), want)
    with pytest.raises(KeyError):
        ref["load_task_state"](clf, {"nope": torch.zeros(1)})


def test_bitfit_counts_every_bias(bitfit_ref):
    clf = bitfit_ref["apply_bitfit"](CLSClassifier(_tiny_encoder(n_layers=3), num_labels=4))
    biases = sum(m.bias.numel() for name, m in clf.encoder.named_modules()
                 if isinstance(m, (nn.Linear, nn.LayerNorm)) and m.bias is not None
                 and name != "lm_head")
    head = sum(p.numel() for p in clf.head.parameters())
    assert sum(p.numel() for p in clf.parameters() if p.requires_grad) == biases + head
    assert not clf.encoder.lm_head.bias.requires_grad


def test_bitfit_on_the_pretrained_encoder(bitfit_ref):
    from course_lib.pretrained import load_encoder
    clf = bitfit_ref["apply_bitfit"](CLSClassifier(load_encoder(), num_labels=4))
    n = sum(p.numel() for p in clf.parameters() if p.requires_grad)
    # 4 layers x (4*64 attention + 2*64 LayerNorm + 256 + 64 FFN) + 64 (ln_f) + head 64*4+4
    assert n == 4 * (4 * 64 + 2 * 64 + 256 + 64) + 64 + 260 == 3140


CHECKS = {"init": ("Adapter", "check_adapter_init"), "forward": ("Adapter", "check_adapter_forward"),
          "add_adapters": ("add_adapters", "check_add_adapters"),
          "count": ("adapter_parameter_count", "check_adapter_count")}


@pytest.mark.parametrize("case", sorted(CHECKS))
def test_visible_checks_pass_the_reference_and_catch_each_mistake(ref, case):
    """Each visible check passes the reference and fails on every named mistake of its case
    (check_add_adapters runs add_adapters with its stand-in, never with Adapter)."""
    from autograde.spec import mistakes_module
    from course_lib.checks import CheckFailed
    from course_lib.checks import adapters as checks
    name, check = CHECKS[case]
    getattr(checks, check)(ref[name])
    for mistake in mistakes_module("adapters").MISTAKES[case]:
        with pytest.raises(CheckFailed):
            getattr(checks, check)(mistake.make(dict(ref))[name])
