"""Visible checks for the distillation notebook (notebooks/distillation/distillation.ipynb). Properties only.

Interface (see the notebook):
    distillation_loss(student_logits (B, C), teacher_logits (B, C), labels (B,), T, alpha) -> scalar
        = alpha T^2 KL(softmax(z_t/T) || softmax(z_s/T)) + (1 - alpha) CE(z_s, y)
    init_student_from_teacher(teacher, layers) -> a model of the teacher's class, len(layers) blocks
    cosine_loss(h_student (B, T, d), h_teacher (B, T, d), mask (B, T)) -> scalar
        = mean over real tokens of 1 - cos(h_s, h_t)
    generate_uncached(model, ids (B, T0), n_new, temperature=0.0, generator=None) -> (B, T0 + n_new)
        the same function as in the KV-cache notebook, checked by the same check
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import call, expect, expect_close, ok, tiny_model, visible_check
from .kv_cache import check_generate_uncached  # noqa: F401 (one function, one check)


def _call(fn, *args, **kwargs):
    return call(f"{fn.__name__}(...)", fn, *args, **kwargs)


def _scalar(v, what):
    expect(isinstance(v, torch.Tensor) and v.dim() == 0,
           f"{what} should be a scalar tensor (a 0-dim torch.Tensor), got "
           f"{tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__}")
    return v


@visible_check
def check_distillation_loss(distillation_loss) -> None:
    torch.manual_seed(0)
    B, C = 6, 5
    z_s, z_t = torch.randn(B, C), torch.randn(B, C) * 2
    y = torch.randint(0, C, (B,))
    L = lambda s, t, T, a: _scalar(_call(distillation_loss, s, t, y, T, a), "the loss")

    expect(L(z_t, z_t, 2.0, 1.0).abs() < 1e-6,
           "with alpha = 1 and the student equal to the teacher the loss should be 0 "
           "(KL(p || p) = 0); got a nonzero value: do you pass probabilities where log-"
           "probabilities belong, or the arguments of kl_div the wrong way round?")
    ok("loss = 0 when the student equals the teacher (alpha = 1)")

    expect_close(L(z_s, z_t, 3.0, 0.0), F.cross_entropy(z_s, y), "the loss with alpha = 0",
                 hint="alpha = 0 leaves only CE(z_s, y), computed on the student's logits "
                      "without T")
    ok("alpha = 0 gives the plain hard-label cross-entropy (no temperature on it)")

    soft = L(z_s, z_t, 1.0, 1.0)
    expect(soft > 0, "KL between different distributions is positive")
    # T = 1, alpha = 1: KL(p_t || p_s) = sum p_t (log p_t - log p_s), averaged over the batch
    p_t = F.softmax(z_t, -1)
    kl_rows = (p_t * (F.log_softmax(z_t, -1) - F.log_softmax(z_s, -1))).sum(-1)   # (B,)
    expect(not torch.isclose(soft, kl_rows.mean() / C, rtol=1e-4),
           "the KL term is divided by the number of classes too: use reduction='batchmean', not "
           "'mean'")
    p_s = F.softmax(z_s, -1)
    reverse = (p_s * (F.log_softmax(z_s, -1) - F.log_softmax(z_t, -1))).sum(-1).mean()
    expect(not torch.isclose(soft, reverse, rtol=1e-4),
           "you computed KL(student || teacher): F.kl_div(input, target) takes the student's "
           "log-probabilities as input and the teacher's probabilities as target")
    expect_close(soft, kl_rows.mean(), "the loss with T = 1, alpha = 1",
                 hint="alpha = 1, T = 1 leaves KL(p_t || p_s) summed over classes, averaged over "
                      "the batch (reduction='batchmean')")
    ok("T = 1, alpha = 1: KL(teacher || student), averaged over the batch")

    # T^2: for logits scaled by T, KL at temperature T equals KL at T = 1, so the loss is T^2 x
    T = 4.0
    scaled = L(z_s * T, z_t * T, T, 1.0)
    expect(not torch.isclose(scaled, soft, rtol=1e-4),
           "the KL term is not scaled by T^2 (with logits multiplied by T, the loss at "
           "temperature T should be T^2 times the loss at T = 1)")
    expect_close(scaled, soft * T ** 2, "the loss at T = 4 with logits x 4",
                 hint="soften both the student and the teacher by T, and scale the KL by T^2")
    ok("both distributions are softened by T and the KL is scaled by T^2")

    mix = L(z_s, z_t, 2.0, 0.3)
    expect_close(mix, 0.3 * L(z_s, z_t, 2.0, 1.0) + 0.7 * L(z_s, z_t, 2.0, 0.0), "alpha = 0.3",
                 hint="the loss is alpha x soft + (1 - alpha) x hard")
    ok("alpha mixes the soft and the hard term linearly")

    s = z_s.clone().requires_grad_(True)
    t = z_t.clone().requires_grad_(True)
    _call(distillation_loss, s, t, y, 2.0, 0.5).backward()
    expect(s.grad is not None and s.grad.abs().sum() > 0, "no gradient reaches the student logits")
    expect(t.grad is None or t.grad.abs().sum() == 0,
           "a gradient flows into the teacher's logits: detach them (the teacher is fixed)")
    ok("gradients reach the student, not the teacher")
    print("All visible distillation-loss checks passed.")


def _tiny_teacher(causal=False, n_layers=4, seed=0):
    model = tiny_model(seed, causal=causal, n_layers=n_layers, max_len=20)
    with torch.no_grad():                                   # make every tensor distinctive
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


@visible_check
def check_init_student(init_student_from_teacher) -> None:
    teacher = _tiny_teacher()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = _call(init_student_from_teacher, teacher, [1, 3])
    expect(type(student) is type(teacher), f"the student is a {type(student).__name__}; it should "
                                           f"be a {type(teacher).__name__}, like the teacher")
    expect(len(student.blocks) == 2 and student.config.n_layers == 2,
           "the student should have len(layers) = 2 blocks and config.n_layers = 2")
    ok("same class as the teacher, 2 blocks")

    for i, layer in enumerate([1, 3]):
        for name, p in student.blocks[i].state_dict().items():
            t = teacher.blocks[layer].state_dict()[name]
            expect(torch.equal(p, t), f"student block {i}'s {name} is not teacher block "
                                      f"{layer}'s: copy the chosen layers, in the given order")
    expect(torch.equal(student.embed.tok.weight, teacher.embed.tok.weight)
           and torch.equal(student.embed.pos.weight, teacher.embed.pos.weight),
           "copy the teacher's token and position embeddings")
    expect(torch.equal(student.ln_f.weight, teacher.ln_f.weight),
           "copy the teacher's final LayerNorm ln_f")
    ok("embeddings, the chosen blocks (in order) and ln_f are the teacher's")

    ids = torch.randint(7, 40, (2, 9))
    with torch.no_grad():
        x = teacher.embed(teacher.embed.tok(ids), torch.arange(9)[None].expand(2, 9))
        for layer in [1, 3]:
            x = teacher.blocks[layer](x)
        expected = teacher.lm_head(teacher.ln_f(x))
        expect_close(student(input_ids=ids)["logits"], expected, "the student's logits",
                     hint="the student should compute embed -> teacher blocks 1, 3 -> ln_f -> "
                          "lm_head")
    ok("the student computes embed -> teacher blocks [1, 3] -> ln_f -> head")

    shared = {id(p) for p in teacher.parameters()} & {id(p) for p in student.parameters()}
    expect(not shared, "the student shares parameters with the teacher: copy them "
                       "(load_state_dict or copy.deepcopy), so training the student leaves the "
                       "teacher unchanged")
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    expect(all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items()),
           "changing the student changed the teacher: copy, never share")
    ok("the student's parameters are copies; the teacher is unchanged")

    dec = _tiny_teacher(causal=True)
    student = _call(init_student_from_teacher, dec, [0, 2])
    expect(student.config.causal and type(student) is type(dec),
           "a Decoder teacher should give a (causal) Decoder student")
    ok("works for a Decoder too")
    print("All visible init_student_from_teacher checks passed.")


@visible_check
def check_cosine_loss(cosine_loss) -> None:
    torch.manual_seed(0)
    h = torch.randn(2, 5, 8)
    mask = torch.ones(2, 5, dtype=torch.long)
    L = lambda a, b, m: _scalar(_call(cosine_loss, a, b, m), "the cosine loss")
    expect(L(h, h, mask).abs() < 1e-6, "identical hidden states must give 0 (1 - cos = 0)")
    expect_close(L(h, -h, mask), torch.tensor(2.0), "the loss for opposite hidden states",
                 hint="1 - cos(h, -h) = 1 - (-1) = 2 for every token")
    ok("0 for identical hidden states, 2 for opposite ones: 1 - cos")
    expect_close(L(h, 3 * h, mask), torch.tensor(0.0), "the loss when the teacher is 3 x the student",
                 hint="the cosine ignores lengths: only directions count")
    e = torch.zeros(1, 2, 4)
    e[0, 0, 0] = e[0, 1, 1] = 1.0                       # two tokens, orthogonal to the teacher's
    f = torch.zeros(1, 2, 4)
    f[0, 0, 2] = f[0, 1, 3] = 1.0
    expect_close(L(e, f, torch.ones(1, 2)), torch.tensor(1.0), "the loss for orthogonal states",
                 hint="the cosine is taken over the hidden dimension (the last one) of each token")
    ok("the cosine is per token, over the hidden dimension, and ignores lengths")
    padded = mask.clone()
    padded[1, 3:] = 0
    other = h.clone()
    other[1, 3:] = torch.randn(2, 8)                    # change only the padded positions
    expect_close(L(h, other, padded), torch.tensor(0.0), "the loss when only padding differs",
                 hint="average over the real tokens only (mask == 1): padding must not count")
    g = torch.randn(2, 5, 8)
    cos = F.cosine_similarity(h, g, dim=-1)             # (2, 5), per token
    expect_close(L(h, g, padded), (1 - cos)[padded.bool()].mean(), "the loss with padding",
                 hint="the mean of 1 - cos over the real tokens, not over all B * T positions")
    ok("padding is ignored: the mean runs over the real tokens")
    s_ = h.clone().requires_grad_(True)
    t_ = g.clone().requires_grad_(True)
    _call(cosine_loss, s_, t_, mask).backward()
    expect(s_.grad is not None and s_.grad.abs().sum() > 0, "no gradient reaches the student")
    expect(t_.grad is None or t_.grad.abs().sum() == 0,
           "a gradient flows into the teacher's hidden states: detach them (the teacher is fixed)")
    ok("gradients reach the student, not the teacher")
    print("All visible cosine_loss checks passed.")
