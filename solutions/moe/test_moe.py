"""The MoE reference solution (solutions/moe/moe.ipynb) against transformers' Mixtral block and the
Switch / Mixtral load-balancing losses, a naive per-token loop, and its own named mistakes."""

from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograde import cells
from autograde.sandboxed.recorder import run_case
from autograde.spec import load_case
from autograde.build.reference import reference_namespace
from autograde.grade.verdict import differences
from autograde.spec import mistakes_module

ROOT = Path(__file__).resolve().parents[2]


class SwiGLU(nn.Module):
    """Mixtral's expert: w2(silu(w1 x) * w3 x), no biases."""

    def __init__(self, d, d_ff):
        super().__init__()
        self.w1 = nn.Linear(d, d_ff, bias=False)
        self.w2 = nn.Linear(d_ff, d, bias=False)
        self.w3 = nn.Linear(d, d_ff, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def _naive(moe, x):
    """y_t = sum_{i in top-k} w_i E_i(x_t), one token at a time."""
    B, T, d = x.shape
    rows = []
    for t in x.reshape(-1, d):
        p = torch.softmax(moe.router(t), -1)
        w, idx = torch.topk(p, moe.k)
        if moe.renormalize:
            w = w / w.sum()
        rows.append(sum(w[s] * moe.experts[int(idx[s])](t[None])[0] for s in range(moe.k)))
    return torch.stack(rows).view(B, T, d)


@pytest.mark.parametrize("N,k,renormalize", [(4, 1, False), (4, 2, False), (8, 2, True),
                                             (3, 3, False)])
def test_forward_equals_naive_loop(ref, N, k, renormalize):
    torch.manual_seed(N + k)
    moe = ref["MoE"](12, 20, N, k=k, renormalize=renormalize)
    x = torch.randn(3, 7, 12)
    with torch.no_grad():
        torch.testing.assert_close(moe(x), _naive(moe, x), atol=1e-5, rtol=1e-4)
    assert moe.router_probs.shape == (21, N) and moe.expert_indices.shape == (21, k)


@pytest.mark.parametrize("k", [1, 2])
def test_against_transformers_mixtral_block(ref, k):
    mixtral = pytest.importorskip("transformers.models.mixtral.modeling_mixtral",
                                  reason="transformers is a dev dependency")
    from transformers import MixtralConfig
    d, d_ff, N = 16, 24, 4
    cfg = MixtralConfig(hidden_size=d, intermediate_size=d_ff, num_local_experts=N,
                        num_experts_per_tok=k, router_jitter_noise=0.0, hidden_act="silu")
    torch.manual_seed(k)
    ours = ref["MoE"](d, d_ff, N, k=k, renormalize=True, make_expert=lambda: SwiGLU(d, d_ff))
    theirs = mixtral.MixtralSparseMoeBlock(cfg).eval()
    with torch.no_grad():
        theirs.gate.weight.copy_(ours.router.weight)
        for i, e in enumerate(ours.experts):
            theirs.experts.gate_up_proj[i].copy_(torch.cat([e.w1.weight, e.w3.weight], 0))
            theirs.experts.down_proj[i].copy_(e.w2.weight)
        x = torch.randn(2, 9, d)
        out = theirs(x)
        out = out[0] if isinstance(out, tuple) else out
        torch.testing.assert_close(ours(x), out, atol=1e-5, rtol=1e-4)
        logits, scores, indices = theirs.gate(x.reshape(-1, d))
    torch.testing.assert_close(ours.router_probs, torch.softmax(logits, -1), atol=1e-6,
                               rtol=1e-5)
    assert torch.equal(ours.expert_indices, indices)
    w, _ = ref["topk_gate"](ours.router_probs, k, renormalize=True)
    torch.testing.assert_close(w, scores, atol=1e-6, rtol=1e-5)


def test_lecture_convention_is_mixtral_scaled(ref):
    """Un-renormalised weights = Mixtral's weights times the top-k probability mass."""
    torch.manual_seed(0)
    h = torch.randn(10, 6)
    p = ref["softmax_gate"](h)
    w, i = ref["topk_gate"](p, 2)
    w_r, i_r = ref["topk_gate"](p, 2, renormalize=True)
    assert torch.equal(i, i_r)
    torch.testing.assert_close(w, w_r * w.sum(-1, keepdim=True))
    masked = torch.full_like(h, float("-inf")).scatter(-1, i, h.gather(-1, i))   # Shazeer
    torch.testing.assert_close(w_r, torch.softmax(masked, -1).gather(-1, i))


def test_softmax_gate_matches_torch(ref):
    h = torch.randn(4, 5, 7) * 30
    torch.testing.assert_close(ref["softmax_gate"](h), torch.softmax(h, -1))


def test_upcycled_identical_experts_equal_dense(ref):
    torch.manual_seed(0)
    moe = ref["MoE"](8, 16, 4, k=2, renormalize=True)
    for e in moe.experts[1:]:
        e.load_state_dict(moe.experts[0].state_dict())
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        torch.testing.assert_close(moe(x), moe.experts[0](x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("k", [1, 2])
def test_balance_loss_against_transformers_switch(ref, k):
    switch = pytest.importorskip("transformers.models.switch_transformers."
                                 "modeling_switch_transformers", reason="transformers absent")
    torch.manual_seed(k)
    N = 6
    probs = torch.softmax(torch.randn(1, 40, N) * 2, -1)
    idx = probs.topk(k, -1).indices                                  # (1, 40, k)
    ours = ref["switch_load_balancing_loss"](probs, idx, N)
    theirs = switch.load_balancing_loss_func(probs, idx if k > 1 else idx[..., 0])
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_balance_loss_against_transformers_mixtral(ref):
    mixtral = pytest.importorskip("transformers.models.mixtral.modeling_mixtral",
                                  reason="transformers absent")
    torch.manual_seed(0)
    N, k = 8, 2
    logits = torch.randn(50, N) * 2
    probs = torch.softmax(logits, -1)
    ours = ref["switch_load_balancing_loss"](probs, probs.topk(k, -1).indices, N)
    theirs = mixtral.load_balancing_loss_func((logits,), N, top_k=k)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_balance_loss_values(ref):
    loss = ref["switch_load_balancing_loss"]
    N = 4
    uniform = torch.full((8, N), 1 / N)
    assert loss(uniform, (torch.arange(8) % N)[:, None], N).item() == pytest.approx(1.0)
    collapsed = torch.zeros(8, N)
    collapsed[:, 0] = 1
    assert loss(collapsed, torch.zeros(8, 1, dtype=torch.long), N).item() == pytest.approx(N)


def test_wrong_submission_substitution(source_nb):
    WRONG_SUBMISSION = mistakes_module("moe").WRONG_SUBMISSION
    grade_id, old, new = WRONG_SUBMISSION
    cell = next(c for c in source_nb.cells if cells.grade_id(c) == grade_id)
    assert old in cell.source
    compile(cell.source.replace(old, new), grade_id, "exec")
    ns = reference_namespace(source_nb)
    src = cell.source.replace(old, new)
    exec(compile(src, grade_id, "exec"), ns)
    case = load_case("moe.moe_layer")
    wrong = run_case(case, {"MoE": ns["MoE"]})
    right = run_case(case, {"MoE": reference_namespace(source_nb)["MoE"]})
    assert any(differences(wrong[s]["outputs"], right[s]["outputs"], case.atol, case.rtol)
               for s in case.seeds)
