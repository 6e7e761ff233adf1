"""Named mistakes of the distillation notebook (grader only): wrong variants of the reference.

The common mistakes: reduction="mean"; swapped arguments; probabilities where
log-probabilities belong; T^2 missing; temperature applied to the hard-label CE.
"""

import copy
import warnings

import torch
import torch.nn.functional as F

from autograde.spec import Mistake


def _loss_variant(reduction="batchmean", swapped=False, probs=False, t_squared=True,
                  t_on_ce=False, t_on_student=True, detach=True):
    def distillation_loss(student_logits, teacher_logits, labels, T, alpha):
        teacher = teacher_logits.detach() if detach else teacher_logits
        s, t = (student_logits / T if t_on_student else student_logits), teacher / T
        if swapped:                                       # KL(student || teacher)
            soft = F.kl_div(F.log_softmax(t, -1), F.softmax(s, -1), reduction=reduction)
        elif probs:                                       # probabilities as kl_div's input
            soft = F.kl_div(F.softmax(s, -1), F.softmax(t, -1), reduction=reduction)
        else:
            with warnings.catch_warnings():               # the "mean" mistake warns on purpose
                warnings.simplefilter("ignore", UserWarning)
                soft = F.kl_div(F.log_softmax(s, -1), F.softmax(t, -1), reduction=reduction)
        if t_squared:
            soft = soft * T ** 2
        hard = F.cross_entropy(student_logits / T if t_on_ce else student_logits, labels)
        return alpha * soft + (1 - alpha) * hard
    return lambda objects: dict(objects, distillation_loss=distillation_loss)


def _init_variant(kind):
    def init_student_from_teacher(teacher, layers):
        cfg = copy.deepcopy(teacher.config)
        cfg.n_layers = len(layers)
        student = type(teacher)(cfg)
        if kind != "fresh embeddings":
            student.embed.load_state_dict(teacher.embed.state_dict())
        chosen = list(range(len(layers))) if kind == "first layers" else layers
        for i, layer in enumerate(chosen):
            if kind == "shared":
                student.blocks[i] = teacher.blocks[layer]
            else:
                student.blocks[i].load_state_dict(teacher.blocks[layer].state_dict())
        student.ln_f.load_state_dict(teacher.ln_f.state_dict())
        student.lm_head.bias.data.copy_(teacher.lm_head.bias.data)
        return student.eval()
    return lambda objects: dict(objects, init_student_from_teacher=init_student_from_teacher)


def _cosine_variant(over_padding=False, dim=-1, similarity=False, detach=True):
    def cosine_loss(h_student, h_teacher, mask):
        cos = F.cosine_similarity(h_student, h_teacher.detach() if detach else h_teacher, dim=dim)
        value = cos if similarity else 1 - cos
        if dim != -1:
            return value.mean()
        return value.mean() if over_padding else value[mask.bool()].mean()
    return lambda objects: dict(objects, cosine_loss=cosine_loss)


def _generate_times_temperature(objects):
    ref = objects["generate_uncached"]

    def generate_uncached(model, input_ids, n_new, temperature=0.0, generator=None):
        return ref(model, input_ids, n_new, 1 / temperature if temperature else 0.0, generator)
    return dict(objects, generate_uncached=generate_uncached)


def _generate_always_greedy(objects):
    ref = objects["generate_uncached"]
    return dict(objects, generate_uncached=lambda model, input_ids, n_new, temperature=0.0,
                generator=None: ref(model, input_ids, n_new))


def _generate_first_position(objects):
    @torch.no_grad()
    def generate_uncached(model, input_ids, n_new, temperature=0.0, generator=None):
        ids = input_ids
        for _ in range(n_new):
            nxt = model(input_ids=ids)["logits"][:, 0].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], dim=1)
        return ids
    return dict(objects, generate_uncached=generate_uncached)


def _generate_only_prompt(objects):
    @torch.no_grad()
    def generate_uncached(model, input_ids, n_new, temperature=0.0, generator=None):
        logits = model(input_ids=input_ids)["logits"][:, -1]
        nxt = logits.argmax(-1, keepdim=True)
        return torch.cat([input_ids, nxt.repeat(1, n_new)], dim=1)
    return dict(objects, generate_uncached=generate_uncached)


MISTAKES = {
    "loss": [
        Mistake('reduction="mean"', 'use reduction="batchmean": "mean" also divides the KL by '
                "the number of classes", _loss_variant(reduction="mean")),
        Mistake("swapped arguments", "F.kl_div(input, target) takes the student's "
                "log-probabilities as input and the teacher's probabilities as target",
                _loss_variant(swapped=True)),
        Mistake("probabilities where log-probabilities belong", "kl_div's input must be "
                "log_softmax(z_s / T), not softmax", _loss_variant(probs=True)),
        Mistake("T^2 missing", "scale the KL term by T^2", _loss_variant(t_squared=False)),
        Mistake("temperature applied to the hard-label CE", "the hard-label cross-entropy uses "
                "the student's logits without T", _loss_variant(t_on_ce=True)),
        Mistake("temperature on the teacher only", "soften the student's logits by T too: "
                "log_softmax(z_s / T)", _loss_variant(t_on_student=False)),
        Mistake("teacher not detached", "the teacher is fixed: no gradient may reach "
                "teacher_logits (detach them)", _loss_variant(detach=False)),
    ],
    "cosine": [
        Mistake("padding counted", "average 1 - cos over the real tokens only (mask == 1)",
                _cosine_variant(over_padding=True)),
        Mistake("cosine over the wrong dim", "take the cosine of each token's two hidden "
                "vectors, over the last (hidden) dimension", _cosine_variant(dim=1)),
        Mistake("similarity instead of 1 - similarity", "the loss is 1 - cos: 0 when the "
                "directions agree", _cosine_variant(similarity=True)),
        Mistake("teacher not detached", "the teacher is fixed: no gradient may reach "
                "h_teacher (detach it)", _cosine_variant(detach=False)),
    ],
    "init_student": [
        Mistake("blocks shared with the teacher", "copy the teacher's blocks (load_state_dict or "
                "deepcopy); sharing them lets the student's training change the teacher",
                _init_variant("shared")),
        Mistake("first layers instead of the chosen ones", "use the teacher layers listed in "
                "`layers`, in that order", _init_variant("first layers")),
        Mistake("embeddings not copied", "copy the teacher's embeddings too",
                _init_variant("fresh embeddings")),
    ],
    "generate_uncached": [
        Mistake("logits multiplied by the temperature", "sample from softmax(z / T): divide the "
                "logits by the temperature, do not multiply", _generate_times_temperature),
        Mistake("always greedy", "with a temperature > 0, sample with torch.multinomial",
                _generate_always_greedy),
        Mistake("logits of the first position", "predict the next token from the logits of the "
                "last position, logits[:, -1]", _generate_first_position),
        Mistake("one prediction repeated", "feed the sequence with the new token back in at "
                "every step", _generate_only_prompt),
    ],
}

# the grader's 'partly wrong' sample submission: T^2 missing in the distillation loss
WRONG_SUBMISSION = ("distillation_loss",
                    'reduction="batchmean") * T ** 2',
                    'reduction="batchmean")')

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_distillation_loss": (0, "not scaled by T^2"),
}
