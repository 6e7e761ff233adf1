"""Hidden cases of the distillation notebook (solutions/distillation/distillation.py): seeded inputs, no answers."""

import torch

from autograde.spec import Case
from course_lib.model import Decoder, Encoder, TransformerConfig

# (batch, classes, logit scale) per seed
LOSS_SHAPES = {0: (8, 4, 1.0), 1: (16, 10, 3.0), 2: (5, 7, 0.5), 3: (32, 3, 5.0)}
# (T, alpha) settings, every one on every seed: the edge cases T = 1, alpha = 0, alpha = 1, large T
SETTINGS = [(2.0, 0.5), (1.0, 0.5), (1.0, 1.0), (4.0, 0.0), (3.0, 1.0), (20.0, 0.9), (0.5, 0.3)]


def _loss(objects, seed):
    B, C, scale = LOSS_SHAPES[seed]
    g = torch.Generator().manual_seed(100 + seed)
    z_s = torch.randn(B, C, generator=g) * scale
    z_t = torch.randn(B, C, generator=g) * scale * 1.5
    y = torch.randint(0, C, (B,), generator=g)
    f = objects["distillation_loss"]
    out = {}
    for T, alpha in SETTINGS:
        out[f"loss_T{T:g}_alpha{alpha:g}"] = f(z_s, z_t, y, T, alpha)
    out["loss_student_equals_teacher_alpha1"] = f(z_t, z_t, y, 2.0, 1.0)
    s = z_s.clone().requires_grad_(True)
    t = z_t.clone().requires_grad_(True)
    f(s, t, y, 2.0, 0.5).backward()
    out["grad_student_T2_alpha0.5"] = torch.zeros_like(s) if s.grad is None else s.grad
    out["teacher_gets_no_grad"] = t.grad is None or bool((t.grad == 0).all())
    return out


def _teacher(seed, causal):
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=50, d_model=16, n_heads=2, n_layers=4 + seed, d_ff=32,
                            max_len=24, dropout=0.0, causal=causal)
    model = (Decoder if causal else Encoder)(cfg).eval()
    g = torch.Generator().manual_seed(500 + seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return model


LAYER_CHOICES = {0: [0, 2], 1: [4, 1, 3], 2: [5]}


def _init_student(objects, seed):
    out = {}
    for causal in (False, True):
        teacher = _teacher(seed, causal)
        before = {k: v.clone() for k, v in teacher.state_dict().items()}
        layers = LAYER_CHOICES[seed]
        student = objects["init_student_from_teacher"](teacher, layers)
        kind = "decoder" if causal else "encoder"
        ids = torch.randint(7, 50, (2, 11), generator=torch.Generator().manual_seed(seed))
        out[f"{kind}_eval_mode"] = not student.training
        with torch.no_grad():
            out[f"{kind}_logits"] = student.eval()(input_ids=ids)["logits"]
        out[f"{kind}_class"] = type(student).__name__
        out[f"{kind}_n_layers"] = int(student.config.n_layers)
        out[f"{kind}_n_blocks"] = len(student.blocks)
        out[f"{kind}_shares_parameters"] = bool(
            {id(p) for p in teacher.parameters()} & {id(p) for p in student.parameters()})
        with torch.no_grad():
            for p in student.parameters():
                p.add_(1.0)
        out[f"{kind}_teacher_unchanged"] = all(torch.equal(v, teacher.state_dict()[k])
                                               for k, v in before.items())
    return out


def _cosine(objects, seed):
    B, T, d = [(2, 6, 8), (3, 4, 16), (1, 9, 4)][seed]
    g = torch.Generator().manual_seed(800 + seed)
    h_s = torch.randn(B, T, d, generator=g).requires_grad_(True)
    h_t = (torch.randn(B, T, d, generator=g) + 0.5 * h_s.detach()).requires_grad_(True)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[0, T - 2:] = 0                                       # padding at the end of row 0
    loss = objects["cosine_loss"](h_s, h_t, mask)
    out = {"loss": loss.detach().reshape(()), "is_scalar": loss.dim() == 0}
    loss.backward()
    out["grad_student"] = torch.zeros_like(h_s) if h_s.grad is None else h_s.grad
    out["teacher_gets_no_grad"] = h_t.grad is None or bool((h_t.grad == 0).all())
    return out


def _generate(objects, seed):
    teacher = _teacher(seed, causal=True)
    g = torch.Generator().manual_seed(900 + seed)
    with torch.no_grad():                # untie the head: tied weights make greedy repeat a token
        teacher.lm_head.weight = torch.nn.Parameter(
            torch.randn(teacher.lm_head.weight.shape, generator=g) * 3)
    B, T0, n_new = [(2, 3, 4), (4, 1, 6), (1, 8, 8)][seed]
    prompt = torch.randint(7, 50, (B, T0), generator=torch.Generator().manual_seed(700 + seed))
    f = objects["generate_uncached"]
    return {"greedy": f(teacher, prompt, n_new),
            "sampled": f(teacher, prompt, n_new, temperature=0.7,
                         generator=torch.Generator().manual_seed(seed)),
            "hot": f(teacher, prompt, n_new, temperature=2.0,
                     generator=torch.Generator().manual_seed(seed + 10))}


_SETTING = {(2.0, 0.5): "T = 2, alpha = 0.5: alpha T^2 KL(p_t || p_s) + (1 - alpha) CE(z_s, y), "
                        "both distributions softened by T, the KL averaged over the batch",
            (1.0, 0.5): "T = 1, alpha = 0.5: half the KL(p_t || p_s), half the CE",
            (1.0, 1.0): "T = 1, alpha = 1: KL(p_t || p_s) summed over the classes, averaged over "
                        "the batch",
            (4.0, 0.0): "alpha = 0: the plain CE(z_s, y) on the student's logits, without T",
            (3.0, 1.0): "T = 3, alpha = 1: T^2 times the KL of the two distributions softened by T",
            (20.0, 0.9): "T = 20, alpha = 0.9: a large temperature, the KL scaled by T^2",
            (0.5, 0.3): "T = 0.5, alpha = 0.3: a temperature below 1 sharpens both distributions"}
CASES = {
    "loss": Case(_loss, seeds=(0, 1, 2, 3), requires={
        **{f"loss_T{T:g}_alpha{alpha:g}": req for (T, alpha), req in _SETTING.items()},
        "loss_student_equals_teacher_alpha1": "with alpha = 1 and the student equal to the "
                                              "teacher the loss is 0",
        "grad_student_T2_alpha0.5": "the loss's gradient with respect to the student's logits "
                                    "(T = 2, alpha = 0.5)",
        "teacher_gets_no_grad": "no gradient flows into teacher_logits (the teacher is fixed)"}),
    "init_student": Case(_init_student, seeds=(0, 1, 2), requires={
        **{f"{kind}_{key}": f"{kind} teacher: {req}" for kind in ("encoder", "decoder")
           for key, req in [
               ("logits", "the student computes the teacher's embeddings, then the chosen "
                          "blocks in the given order, then ln_f and the LM head"),
               ("class", "the student is a model of the teacher's class"),
               ("n_layers", "the student's config has n_layers = len(layers)"),
               ("n_blocks", "the student has len(layers) blocks"),
               ("shares_parameters", "the student holds copies: it shares no parameter with the "
                                     "teacher"),
               ("teacher_unchanged", "changing the student leaves the teacher unchanged"),
               ("eval_mode", "the student is returned in eval mode")]}}),
    "cosine": Case(_cosine, seeds=(0, 1, 2), requires={
        "loss": "the mean over the real tokens (mask 1) of 1 - cos(h_s, h_t), the cosine over "
                "the hidden dimension",
        "is_scalar": "the loss is a 0-dimensional tensor",
        "grad_student": "the loss's gradient with respect to the student's hidden states",
        "teacher_gets_no_grad": "no gradient flows into h_teacher (the teacher is fixed)"}),
    "generate_uncached": Case(_generate, seeds=(0, 1, 2), requires={
        "greedy": "temperature 0: each step appends the argmax of the last position's logits of "
                  "the whole sequence so far; (B, T_0 + n_new) ids",
        "sampled": "temperature 0.7: each step samples torch.multinomial(softmax(z / T), 1, "
                   "generator=generator)",
        "hot": "temperature 2.0: the same sampling rule, softmax(z / T)"}),
}
