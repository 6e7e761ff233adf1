"""The practice quiz (grader only): answers are values, so there are no variant functions to name;
WRONG_SUBMISSION is the demo's partly wrong student, who counted LoRA on W_q only (RoBERTa-base,
r = 8: 12 layers x 8 x (768 + 768) = 147,456 instead of 294,912 for W_q and W_v)."""

WRONG_SUBMISSION = ("peft_lora_count", "peft_lora_count = 294912", "peft_lora_count = 147456")
MISTAKES: dict = {}

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_peft_lora_count": (0, "0/1 checks passed"),
}
