"""The pruning reference solution (solutions/pruning/pruning.ipynb) against torch.nn.utils.prune.

Masks must equal the library's exactly: per-tensor L1 (l1_unstructured), pruning again
(PruningContainer: the amount of what remains), global_unstructured, and ln_structured (n=2, dim=0).
The hidden cases themselves are also run on objects built from torch.nn.utils.prune: the reference's
outputs must be identical, and every named mistake must change some output.
"""

import copy
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

prune = pytest.importorskip("torch.nn.utils.prune", reason="torch.nn.utils.prune is needed")

from autograde.spec import mistakes_module  # noqa: E402

WRONG_SUBMISSION = mistakes_module("pruning").WRONG_SUBMISSION
from autograde.sandboxed.recorder import run_case  # noqa: E402
from autograde.spec import load_case, load_module  # noqa: E402
from autograde.build.reference import reference_namespace  # noqa: E402
from autograde.grade.verdict import differences  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["n_to_prune", "magnitude_mask", "global_magnitude_masks", "neuron_mask",
         "remove_neurons", "head_importance", "prune_heads", "drop_layers"]


# --------------------------------------------------------------- torch.nn.utils.prune as objects
_cases = load_module(ROOT / "solutions" / "pruning" / "cases.py", "autograde_cases_pruning")
_torch_n_to_prune, _torch_magnitude_mask = _cases.torch_n_to_prune, _cases.torch_magnitude_mask
_torch_global_masks, _torch_neuron_mask = _cases.torch_global_masks, _cases.torch_neuron_mask


def _torch_objects(ref):
    return dict({k: ref[k] for k in NAMES}, n_to_prune=_torch_n_to_prune,
                magnitude_mask=_torch_magnitude_mask,
                global_magnitude_masks=_torch_global_masks, neuron_mask=_torch_neuron_mask)


# --------------------------------------------------------------- direct comparisons
@pytest.mark.parametrize("amount,n,k", [(0.25, 10, 2), (0.5, 5, 2), (0.15, 10, 2), (0.35, 10, 4),
                                        (0.36, 10, 4), (0.0, 3, 0), (1.0, 3, 3), (3, 10, 3),
                                        (1, 10, 1), (0.5, 1, 0), (0.5, 3, 2)])
def test_n_to_prune_rounds_like_torch(ref, amount, n, k):
    assert ref["n_to_prune"](amount, n) == _torch_n_to_prune(amount, n) == k


@pytest.mark.parametrize("bad", [1.5, -0.1, -1, 11, "half", None])
def test_n_to_prune_rejects_what_torch_rejects(ref, bad):
    with pytest.raises((ValueError, TypeError)) as ours:
        ref["n_to_prune"](bad, 10)
    with pytest.raises((ValueError, TypeError)) as theirs:
        _torch_n_to_prune(bad, 10)
    assert ours.type is theirs.type


@pytest.mark.parametrize("shape,amount", [((2, 5), 0.25), ((5,), 0.5), ((7, 9), 0.3),
                                          ((4, 4, 3), 0.9), ((10,), 3), ((6, 6), 0.0),
                                          ((6, 6), 1.0), ((3, 11), 0.35)])
def test_magnitude_mask_equals_l1_unstructured(ref, shape, amount):
    w = torch.randn(shape, generator=torch.Generator().manual_seed(sum(shape)))
    ours = ref["magnitude_mask"](w, amount)
    assert ours.dtype == w.dtype and ours.shape == w.shape
    assert torch.equal(ours, _torch_magnitude_mask(w, amount))


def test_pruning_again_matches_pruning_container(ref):
    """prune twice in torch (a PruningContainer) == magnitude_mask with the earlier mask."""
    w = torch.randn(12, 10, generator=torch.Generator().manual_seed(7))
    layer = nn.Linear(10, 12)
    with torch.no_grad():
        layer.weight.copy_(w)
    mask = None
    for amount in (0.5, 0.5, 0.3, 4):
        prune.l1_unstructured(layer, "weight", amount=amount)
        current = w * mask if mask is not None else w
        mask = ref["magnitude_mask"](current, amount, mask)
        assert torch.equal(mask, layer.weight_mask)
    assert int(mask.sum()) == 120 - 60 - 30 - round(0.3 * 30) - 4


def test_half_twice_leaves_a_quarter(ref):
    w = torch.randn(16, 16, generator=torch.Generator().manual_seed(3))
    m1 = ref["magnitude_mask"](w, 0.5)
    m2 = ref["magnitude_mask"](w * m1, 0.5, m1)
    assert int(m1.sum()) == 128 and int(m2.sum()) == 64


@pytest.mark.parametrize("amount", [0.25, 0.5, 0.7, 13])
def test_global_masks_equal_global_unstructured(ref, amount):
    g = torch.Generator().manual_seed(11)
    ws = [torch.randn(4, 6, generator=g) * 0.1, torch.randn(9, generator=g),
          torch.randn(3, 2, 2, generator=g) * 3]
    ours = ref["global_magnitude_masks"](ws, amount)
    for a, b in zip(ours, _torch_global_masks(ws, amount)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("shape,amount", [((10, 4), 0.25), ((5, 8), 0.5), ((12, 6), 5),
                                          ((7, 3), 0.35), ((9, 9), 1.0)])
def test_neuron_mask_equals_ln_structured(ref, shape, amount):
    w = torch.randn(shape, generator=torch.Generator().manual_seed(shape[0]))
    assert torch.equal(ref["neuron_mask"](w, amount), _torch_neuron_mask(w, amount))


def test_remove_neurons_equals_masked_ffn(ref):
    from course_lib.model import FeedForward, TransformerConfig
    torch.manual_seed(0)
    ffn = FeedForward(TransformerConfig(d_model=16, d_ff=40, dropout=0.0)).eval()
    with torch.no_grad():
        for p in ffn.parameters():
            p.normal_()
    masked = copy.deepcopy(ffn)
    prune.ln_structured(masked.W_1, "weight", amount=0.3, n=2, dim=0)       # rows of W_1
    gone = masked.W_1.weight_mask.sum(dim=1) == 0
    with torch.no_grad():
        masked.W_2.weight[:, gone] = 0              # a removed neuron contributes nothing
    x = torch.randn(3, 5, 16)
    narrow = ref["remove_neurons"](ffn, 0.3)
    assert narrow.W_1.weight.shape == (28, 16) and narrow.W_2.weight.shape == (16, 28)
    with torch.no_grad():
        torch.testing.assert_close(narrow(x), masked(x), atol=1e-5, rtol=1e-4)


def test_head_importance_equals_naive_per_head_backward(ref):
    """Against a naive loop: one backward per batch, gate gradients read from .grad."""
    from course_lib.model import CLSClassifier, Encoder, TransformerConfig
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=30, d_model=16, n_heads=4, n_layers=2, d_ff=32,
                            max_len=12, dropout=0.0)
    model = CLSClassifier(Encoder(cfg), 3).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    batches = [{"input_ids": torch.randint(4, 30, (5, 8)),
                "attention_mask": torch.ones(5, 8, dtype=torch.long),
                "labels": torch.randint(0, 3, (5,))} for _ in range(3)]
    ours = ref["head_importance"](model, batches)
    naive = torch.zeros(2, 4)
    for batch in batches:
        for block in model.encoder.blocks:
            block.attn.head_gate.requires_grad_(True)
            block.attn.head_gate.grad = None
        F.cross_entropy(model(input_ids=batch["input_ids"],
                              attention_mask=batch["attention_mask"]), batch["labels"]).backward()
        naive += torch.stack([b.attn.head_gate.grad.abs() for b in model.encoder.blocks])
    torch.testing.assert_close(ours, naive / 3, atol=1e-6, rtol=1e-5)


def test_pruning_heads_changes_output_and_gates(ref):
    from course_lib.model import Encoder, TransformerConfig
    torch.manual_seed(0)
    enc = Encoder(TransformerConfig(vocab_size=30, d_model=16, n_heads=4, n_layers=3, d_ff=32,
                                    max_len=12, dropout=0.0)).eval()
    importance = torch.rand(3, 4)
    pruned = ref["prune_heads"](enc, importance, 5)
    smallest = sorted((int(i) // 4, int(i) % 4) for i in importance.reshape(-1).argsort()[:5])
    assert pruned == smallest
    gates = torch.stack([b.attn.head_gate for b in enc.blocks])
    assert int((gates == 0).sum()) == 5


def test_drop_layers_equals_a_shallower_encoder(ref):
    """Dropping the top 2 of 4 blocks == a 2-layer encoder holding the bottom 2 blocks' weights."""
    from course_lib.model import Encoder, TransformerConfig
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=30, d_model=16, n_heads=2, n_layers=4, d_ff=32,
                            max_len=12, dropout=0.0)
    enc = Encoder(cfg).eval()
    small = Encoder(TransformerConfig(**{**cfg.to_dict(), "n_layers": 2})).eval()
    small.load_state_dict({k: v for k, v in enc.state_dict().items()
                           if not k.startswith(("blocks.2.", "blocks.3."))})
    ids = torch.randint(4, 30, (2, 7))
    ref["drop_layers"](enc, 2)
    with torch.no_grad():
        torch.testing.assert_close(enc(input_ids=ids)["logits"], small(input_ids=ids)["logits"])


# --------------------------------------------------------------- the hidden cases themselves
CASE_NAMES = ["n_to_prune", "magnitude", "iterative", "global", "neuron", "remove_neurons",
              "head_importance", "prune_heads", "drop_layers"]


@pytest.fixture(scope="module")
def reference_results(ref):
    objects = {k: ref[k] for k in NAMES}
    return {name: run_case(load_case(f"pruning.{name}"), objects) for name in CASE_NAMES}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hidden_cases_agree_with_torch_prune(ref, reference_results, name):
    """Every hidden case gives the same outputs on torch.nn.utils.prune-backed objects."""
    case = load_case(f"pruning.{name}")
    ours = reference_results[name]
    theirs = run_case(case, _torch_objects(ref))
    for seed in case.seeds:
        assert "outputs" in ours[seed], ours[seed]
        assert "outputs" in theirs[seed], theirs[seed]
        assert not differences(theirs[seed]["outputs"], ours[seed]["outputs"], 0.0, 0.0), seed


def test_wrong_submission_text_is_in_the_reference():
    grade_id, right, wrong = WRONG_SUBMISSION
    nb = nbformat.read(ROOT / "solutions" / "pruning" / "pruning.ipynb", as_version=4)
    cell = next(c for c in nb.cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    assert cell.source.count(right) == 1
    namespace = reference_namespace(nb)
    exec(compile(cell.source.replace(right, wrong), "<wrong>", "exec"), namespace)
    assert namespace["n_to_prune"](0.15, 10) == 1              # int() truncates 1.5
