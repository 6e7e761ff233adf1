"""The distillation reference (solutions/distillation/distillation.ipynb) against independent computations:
the F.kl_div formula (torch's own KL), a naive loop over the batch, a naive greedy decoder and a
hand-built student."""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from course_lib.model import Decoder, Encoder, TransformerConfig

ROOT = Path(__file__).resolve().parents[2]


def _logits(seed=0, B=7, C=5):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, C, generator=g) * 2, torch.randn(B, C, generator=g) * 3,
            torch.randint(0, C, (B,), generator=g))


@pytest.mark.parametrize("T,alpha", [(1.0, 0.5), (2.0, 0.5), (4.0, 0.0), (1.0, 1.0),
                                     (20.0, 0.9), (0.5, 0.3)])
def test_loss_matches_kl_div_formula(ref, T, alpha):
    s, t, y = _logits()
    want = (alpha * F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1),
                             reduction="batchmean") * T ** 2
            + (1 - alpha) * F.cross_entropy(s, y))
    torch.testing.assert_close(ref["distillation_loss"](s, t, y, T, alpha), want,
                               atol=1e-5, rtol=1e-4)


def test_loss_matches_naive_loop(ref):
    s, t, y = _logits(1, B=4, C=3)
    T, alpha = 3.0, 0.7
    total = 0.0
    for b in range(4):
        zs, zt = s[b].tolist(), t[b].tolist()
        ps = [math.exp(v / T) for v in zs]
        pt = [math.exp(v / T) for v in zt]
        ps = [v / sum(ps) for v in ps]
        pt = [v / sum(pt) for v in pt]
        kl = sum(pt[i] * math.log(pt[i] / ps[i]) for i in range(3))
        ce = -math.log(math.exp(zs[y[b]]) / sum(math.exp(v) for v in zs))
        total += alpha * T * T * kl + (1 - alpha) * ce
    assert math.isclose(ref["distillation_loss"](s, t, y, T, alpha).item(), total / 4,
                        rel_tol=1e-5)


def test_loss_zero_when_student_is_teacher(ref):
    _, t, y = _logits(2)
    assert abs(ref["distillation_loss"](t, t, y, 4.0, 1.0).item()) < 1e-6


def _tiny(causal, seed=0, n_layers=4):
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=30, d_model=16, n_heads=2, n_layers=n_layers, d_ff=32,
                            max_len=16, dropout=0.0, causal=causal)
    return (Decoder if causal else Encoder)(cfg).eval()


@pytest.mark.parametrize("causal", [False, True])
def test_student_equals_hand_built_forward(ref, causal):
    teacher = _tiny(causal)
    student = ref["init_student_from_teacher"](teacher, [0, 2])
    ids = torch.randint(7, 30, (3, 10))
    with torch.no_grad():
        x = teacher.embed(teacher.embed.tok(ids), torch.arange(10)[None].expand(3, 10))
        mask = teacher.build_mask(None, 10)
        for layer in (0, 2):
            x = teacher.blocks[layer](x, mask)
        want = teacher.lm_head(teacher.ln_f(x))
        torch.testing.assert_close(student(input_ids=ids)["logits"], want, atol=1e-5, rtol=1e-4)
    assert student.lm_head.weight is student.embed.tok.weight            # still tied


def test_generate_matches_naive_greedy(ref):
    model = _tiny(True, seed=3)
    prompt = torch.randint(7, 30, (2, 3))
    ids = prompt.tolist()
    with torch.no_grad():
        for _ in range(6):
            for row in ids:
                logits = model(input_ids=torch.tensor([row]))["logits"][0, -1]
                row.append(int(logits.argmax()))
    assert ref["generate_uncached"](model, prompt, 6).tolist() == ids


def test_cosine_loss_matches_distilbert_cosine_embedding_loss(ref):
    """DistilBERT's distiller: nn.CosineEmbeddingLoss(reduction="mean") with target 1 on the
    hidden states of the real tokens (masked_select by the attention mask)."""
    g = torch.Generator().manual_seed(3)
    h_s, h_t = torch.randn(3, 7, 16, generator=g), torch.randn(3, 7, 16, generator=g)
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[0, 5:] = 0
    mask[2, 2:] = 0
    sel = mask.bool()[..., None].expand_as(h_s)
    s, t = h_s.masked_select(sel).view(-1, 16), h_t.masked_select(sel).view(-1, 16)
    want = torch.nn.CosineEmbeddingLoss(reduction="mean")(s, t, torch.ones(s.size(0)))
    torch.testing.assert_close(ref["cosine_loss"](h_s, h_t, mask), want, atol=1e-6, rtol=1e-5)


def test_generate_samples_from_softmax_over_temperature(ref):
    """A naive sampler drawing from softmax(z / T) with the same generator gives the same ids."""
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=30, d_model=16, n_heads=2, n_layers=2, d_ff=32,
                            max_len=20, dropout=0.0, causal=True)
    model = Decoder(cfg).eval()
    ids = torch.randint(7, 30, (2, 3))
    got = ref["generate_uncached"](model, ids, 6, temperature=0.7, generator=torch.Generator().manual_seed(4))
    g, want = torch.Generator().manual_seed(4), ids
    with torch.no_grad():
        for _ in range(6):
            p = torch.softmax(model(input_ids=want)["logits"][:, -1] / 0.7, dim=-1)
            want = torch.cat([want, torch.multinomial(p, 1, generator=g)], dim=1)
    assert torch.equal(got, want)
