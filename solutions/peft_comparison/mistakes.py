"""Named mistakes of the PEFT comparison notebook (grader only): wrong variants of apply_bitfit."""

from autograde.spec import Mistake

# the grader's 'partly wrong' sample: the classifier head is left frozen
WRONG_SUBMISSION = ("apply_bitfit", "p.requires_grad = True                                           # the new task head",
                    "p.requires_grad = False                                          # the new task head")


def _bitfit(rule):
    def make(objects):
        def apply_bitfit(model):
            for name, p in model.named_parameters():
                p.requires_grad = rule(name)
            return model
        return dict(objects, apply_bitfit=apply_bitfit)
    return make


def _is_bias(name):
    return name.endswith("bias")


_ALL = [
    Mistake("head frozen", "the classifier head is new: train all of it",
            _bitfit(lambda n: _is_bias(n) and not n.startswith("encoder.lm_head"))),
    Mistake("MLM head bias trained", "leave encoder.lm_head.bias frozen: a [CLS] classifier never "
            "uses the MLM head", _bitfit(lambda n: _is_bias(n) or n.startswith("head."))),
    Mistake("LayerNorm biases frozen", "BitFit trains every bias, LayerNorm's beta included",
            _bitfit(lambda n: n.startswith("head.") or (_is_bias(n) and ".ln_" not in n
                    and "ln_f" not in n and not n.startswith("encoder.lm_head")))),
    Mistake("weights trained too", "freeze every weight matrix: BitFit trains only biases",
            _bitfit(lambda n: not n.startswith("encoder.lm_head"))),
]
# lm_head.bias gets no gradient, so training it changes no output: named in "bitfit" only
MISTAKES = {"bitfit": _ALL, "bitfit_step": [m for m in _ALL if m.name != "MLM head bias trained"]}

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_bitfit_trainable": (0, "train all of it"),
    "test_bitfit_step": (0, "the output after them is the one BitFit gives"),
}
