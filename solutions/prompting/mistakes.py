"""Named mistakes of the prompting notebook (grader only): wrong variants of the reference objects.

The names follow the lecture's conventions for prompting (wrong [MASK] index; softmax over the
whole vocabulary then picking without renormalising; label order), plus calibration's (multiply
by the prior instead of dividing; no renormalisation). Each variant is written out here,
independent of the reference, and breaks one thing.
"""

import torch

from autograde.spec import Mistake

# the sample "partly wrong" submission: softmax over the vocabulary, then pick the label words
WRONG_SUBMISSION = (
    "verbalizer_probs",
    "return torch.softmax(scores, dim=-1)",
    "return torch.softmax(mlm_logits, dim=-1)[torch.arange(len(input_ids)), "
    "mask_position(input_ids, mask_id)][:, label_word_ids]",
)


def _cls_position(input_ids, mask_id):
    return torch.zeros(input_ids.size(0), dtype=torch.long)              # [CLS] is at 0


def _last_position(input_ids, mask_id):
    return torch.full((input_ids.size(0),), input_ids.size(1) - 1, dtype=torch.long)


def _first_position(input_ids, mask_id):
    return (input_ids == mask_id).long().argmax(dim=1)                  # no check of the count


def _scores_with(position, sort_labels=False):
    def verbalizer_scores(mlm_logits, input_ids, mask_id, label_word_ids):
        label_word_ids = torch.as_tensor(label_word_ids)
        if sort_labels:                       # e.g. a boolean mask over the vocabulary
            label_word_ids = label_word_ids.sort().values
        t = position(input_ids, mask_id)
        return mlm_logits[torch.arange(mlm_logits.size(0)), t][:, label_word_ids]
    return verbalizer_scores


def _probs_vocab_softmax(mlm_logits, input_ids, mask_id, label_word_ids):
    p = torch.softmax(mlm_logits, dim=-1)                                # over all V words
    return _scores_with(_first_position)(p, input_ids, mask_id, label_word_ids)


def _probs_with(position, sort_labels=False):
    scores = _scores_with(position, sort_labels)
    return lambda *args: torch.softmax(scores(*args), dim=-1)


def _classifier_variant(objects, cls_position=False, no_attention_mask=False, sort_labels=False,
                        no_grad=False):
    ref = objects["PromptClassifier"]

    def forward(self, input_ids, attention_mask=None):
        with torch.set_grad_enabled(not no_grad and torch.is_grad_enabled()):
            out = self.encoder(input_ids=input_ids, return_logits=False,
                               attention_mask=None if no_attention_mask else attention_mask)
        logits = self.encoder.lm_head(out["hidden"])                    # (B, T, V)
        position = _cls_position if cls_position else _first_position
        return _scores_with(position, sort_labels)(logits, input_ids, self.mask_id,
                                                   self.label_word_ids)
    return dict(objects, PromptClassifier=type("WrongPromptClassifier", (ref,),
                                               {"forward": forward}))


def _calibrate_times(probs, prior):
    scaled = probs * prior                                               # multiplies
    return scaled / scaled.sum(dim=-1, keepdim=True)


def _calibrate_unnormalised(probs, prior):
    return probs / prior


def _calibrate_prior_normalised(probs, prior):
    return probs / (prior / prior.sum())                                 # ratios kept, no renorm


CLS = ("[CLS] position", "you read the [CLS] position (index 0); the label word is predicted at "
       "the [MASK]")
LAST = ("last token", "you read the last token of the row; the [MASK] can be anywhere (and "
        "short rows end with padding)")
ORDER = ("label order", "keep the columns in the order of label_word_ids (sorting the ids or a "
         "boolean mask over the vocabulary reorders the labels)")

MISTAKES = {
    "verbalizer_scores": [
        Mistake(*CLS, lambda o: dict(o, verbalizer_scores=_scores_with(_cls_position))),
        Mistake(*LAST, lambda o: dict(o, verbalizer_scores=_scores_with(_last_position))),
        Mistake(*ORDER, lambda o: dict(o, verbalizer_scores=_scores_with(_first_position, True))),
    ],
    "verbalizer_probs": [
        Mistake("softmax over the vocabulary", "take the softmax over the label words only: a "
                "softmax over the whole vocabulary, then picking the label words, does not sum "
                "to 1", lambda o: dict(o, verbalizer_probs=_probs_vocab_softmax)),
        Mistake(*CLS, lambda o: dict(o, verbalizer_probs=_probs_with(_cls_position))),
        Mistake(*ORDER, lambda o: dict(o, verbalizer_probs=_probs_with(_first_position, True))),
    ],
    "classifier": [
        Mistake(*CLS, lambda o: _classifier_variant(o, cls_position=True)),
        Mistake("attention mask ignored", "pass attention_mask to the encoder: padding must not "
                "change the scores", lambda o: _classifier_variant(o, no_attention_mask=True)),
        Mistake(*ORDER, lambda o: _classifier_variant(o, sort_labels=True)),
        Mistake("encoder without gradients", "the encoder ran without gradients (under "
                "torch.no_grad() or detached): only the LM head would train",
                lambda o: _classifier_variant(o, no_grad=True)),
    ],
    "calibrate": [
        Mistake("multiplied by the prior", "divide P(l|x) by the prior p_bar(l); multiplying "
                "strengthens the bias instead of removing it",
                lambda o: dict(o, calibrate=_calibrate_times)),
        Mistake("not renormalised", "after dividing by the prior, renormalise each row to sum "
                "to 1", lambda o: dict(o, calibrate=_calibrate_unnormalised)),
        Mistake("prior normalised instead of the rows", "normalising the prior does not make "
                "the rows sum to 1: renormalise each row of P(l|x) / p_bar(l)",
                lambda o: dict(o, calibrate=_calibrate_prior_normalised)),
    ],
}

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_verbalizer_probs": (0, "softmax over the label words only"),
}
