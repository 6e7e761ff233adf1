"""The practice quiz (grader only): answers are values, so there are no variant functions to name;
WRONG_SUBMISSION is the demo's partly wrong student, who counted LoRA on W_q only (RoBERTa-large,
r = 8: 24 layers x 8 x (1024 + 1024) = 393,216 instead of 786,432 for W_q and W_v)."""

WRONG_SUBMISSION = ("lora_params_large", "lora_params_large = 786432",
                    "lora_params_large = 393216")
MISTAKES: dict = {}

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_lora_params_large": (0, "0/1 checks passed"),
}
