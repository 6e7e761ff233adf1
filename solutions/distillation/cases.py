"""Hidden cases of the distillation notebook (solutions/distillation.py): seeded inputs, no answers."""

import torch

from autograde.hidden import Case
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
    f(s, z_t, y, 2.0, 0.5).backward()
    out["grad_student_T2_alpha0.5"] = s.grad
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
        with torch.no_grad():
            out[f"{kind}_logits"] = student(input_ids=ids)["logits"]
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


def _generate(objects, seed):
    teacher = _teacher(seed, causal=True)
    g = torch.Generator().manual_seed(900 + seed)
    with torch.no_grad():                # untie the head: tied weights make greedy repeat a token
        teacher.lm_head.weight = torch.nn.Parameter(
            torch.randn(teacher.lm_head.weight.shape, generator=g) * 3)
    B, T0, n_new = [(2, 3, 4), (4, 1, 6), (1, 8, 8)][seed]
    prompt = torch.randint(7, 50, (B, T0), generator=torch.Generator().manual_seed(700 + seed))
    return {"greedy": objects["generate"](teacher, prompt, n_new)}


CASES = {
    "loss": Case(_loss, seeds=(0, 1, 2, 3), requirement=(
        "L = alpha T^2 KL(softmax(z_t/T) || softmax(z_s/T)) + (1 - alpha) CE(z_s, y), KL with "
        "F.kl_div(log_softmax(z_s/T), softmax(z_t/T), reduction='batchmean')"), requires={
        "loss_student_equals_teacher_alpha1": "with alpha = 1 and the student equal to the "
                                              "teacher the loss must be 0",
        "loss_T4_alpha0": "alpha = 0 leaves the plain CE(z_s, y), without T",
        "loss_T1_alpha1": "T = 1, alpha = 1 leaves KL(p_t || p_s) averaged over the batch",
        "grad_student_T2_alpha0.5": "the gradient with respect to the student's logits differs"}),
    "init_student": Case(_init_student, seeds=(0, 1, 2), requirement=(
        "copy the teacher's embeddings, the chosen blocks in the given order and ln_f into a new "
        "model of the same class with n_layers = len(layers)")),
    "generate": Case(_generate, seeds=(0, 1, 2), requirement=(
        "each step: logits of the last position of the whole sequence so far, argmax when "
        "temperature == 0, append; return (B, T_0 + n_new)")),
}
