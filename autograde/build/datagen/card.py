"""DATA_CARD.md: the statistics the card quotes, rendered into card_template.md.

Every number in the card is computed from the generated files here (deterministic), except the
bag-of-words baselines, which need scikit-learn: they are measured with the snippet the card
prints and recorded in MEASURED_BASELINES.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from string import Template

from course_lib.datasets import TOPICS
from course_lib.tokenizer import split_words

TEMPLATE = Path(__file__).resolve().parent / "card_template.md"

# Bag-of-words baselines measured with the snippet in DATA_CARD.md (scikit-learn is not a
# dependency of the generator; rerun the snippet and update these after changing it).
MEASURED_BASELINES = {
    "topic_logreg_test": 0.88,
    "sentiment_logreg_test": 0.901,
}

KIND_NOTES = {
    "main": "an ordinary sentence of its topic",
    "context": "a sentence of its topic with an event of another topic attached "
               "(\"..., a week after a measles outbreak in Houston\")",
    "cross": "a cross-over: the topic is clear to a reader, but much of the vocabulary belongs "
             "to another topic (\"Shares of health insurers jumped ...\" is Finance)",
    "bridge": "ambiguous: the same template is used for two topics (\"Pfizer stock fell after "
              "its vaccine failed ...\" is Finance or Health); nobody can be sure",
    "mixed": "a lead sentence of its topic, then a news brief from another topic "
             "(\"... Meanwhile, ...\"); the lead decides, which a bag of words cannot see",
}

# Frequent words left out of the card's "frequent topical words" table.
FUNCTION_WORDS = {"with", "about", "after", "their", "were", "from", "that", "this", "said",
                  "night", "week", "company", "over", "into", "than", "more", "have", "will"}


def word_count(text: str) -> int:
    """Words as the card counts them: whitespace-separated."""
    return len(text.split())


# --------------------------------------------------------------------------------------------
# Statistics (standard library only)
# --------------------------------------------------------------------------------------------


def keyword_topicality(train: list[dict], min_count: int, alpha: float) -> dict[str, tuple]:
    """word -> (P(topic | word), number of train texts, topic) for words in >= min_count
    train texts; P is smoothed with alpha pseudo-counts per topic."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for row in train:
        for w in set(split_words(row["text"])):
            counts[w][row["topic"]] += 1
    table = {}
    for w, c in counts.items():
        total = sum(c.values())
        if total >= min_count:
            label, top = c.most_common(1)[0]
            table[w] = ((top + alpha) / (total + alpha * len(TOPICS)), total, label)
    return table


def keyword_rule_accuracy(train: list[dict], test: list[dict], min_count: int = 20,
                          alpha: float = 1.0) -> float:
    """'Predict the topic of the most topical keyword': the word of the text with the highest
    P(topic | word) decides (ties: the more frequent word; no keyword: topic 0)."""
    table = keyword_topicality(train, min_count, alpha)
    correct = 0
    for row in test:
        scored = [table[w] for w in set(split_words(row["text"])) if w in table]
        guess = max(scored)[2] if scored else 0
        correct += guess == row["topic"]
    return correct / len(test)


def top_keywords(train: list[dict], per_topic: int = 5) -> dict[str, list[str]]:
    """The most frequent content words of each topic with their P(topic | word)."""
    table = keyword_topicality(train, min_count=30, alpha=0.0)
    out = {}
    for t, name in enumerate(TOPICS):
        words = [(n, w, p) for w, (p, n, lab) in table.items()
                 if lab == t and w.isalpha() and len(w) > 3 and p >= 0.5
                 and w not in FUNCTION_WORDS]
        words.sort(reverse=True)
        out[name] = [f"{w} {p:.2f}" for _, w, p in words[:per_topic]]
    return out


def collect_stats(splits: dict, pretrain: list[str], valid: list[str], cues: tuple[int, int],
                  cues_valid: tuple[int, int], info: dict) -> dict:
    """Numbers quoted in the data card (all deterministic); cues: the number of LM lines with a
    label-word cue and with a tone cue."""
    texts = [r["text"] for rows in splits.values() for r in rows]
    vocab = Counter(w for t in texts + pretrain + valid for w in split_words(t))
    lengths = [word_count(t) for t in texts]
    kinds = Counter(info["kind_of"][t] for t in texts)
    train, test = splits["train"], splits["test"]
    return {
        "rows": {k: len(v) for k, v in splits.items()},
        "words_min": min(lengths),
        "words_max": max(lengths),
        "words_mean": round(sum(lengths) / len(lengths), 1),
        "two_sentence": round(sum(". " in t for t in texts) / len(texts), 3),
        "kinds": {k: round(kinds[k] / len(texts), 3) for k in KIND_NOTES},
        "pretrain_lines": len(pretrain),
        "pretrain_words": sum(word_count(line) for line in pretrain),
        "pretrain_cue": round(cues[0] / len(pretrain), 3),
        "pretrain_tone_cue": round(cues[1] / len(pretrain), 3),
        "valid_lines": len(valid),
        "valid_words": sum(word_count(line) for line in valid),
        "valid_cue": round(cues_valid[0] / len(valid), 3),
        "valid_tone_cue": round(cues_valid[1] / len(valid), 3),
        "vocab": len(vocab),
        "vocab_words": sum(1 for w in vocab if w.isalpha()),
        "vocab_rare": sum(1 for c in vocab.values() if c < 5),
        "numbers": len([w for w in vocab if w.isdigit()]),
        "noise": info["noise"],
        "keyword_rule": round(keyword_rule_accuracy(train, test), 3),
        "keyword_rule_10": round(keyword_rule_accuracy(train, test, 10, 1.0), 3),
        "keyword_rule_raw": round(keyword_rule_accuracy(train, test, 5, 0.0), 3),
        "top_keywords": top_keywords(train),
    }


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def size_text(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n > 2**20 else f"{n / 1024:.0f} KiB"


def card_tables(st: dict, sizes: dict[str, int]) -> dict[str, str]:
    """The Markdown tables of the data card."""
    rows, b = st["rows"], MEASURED_BASELINES
    files = [
        ("topic_train.jsonl", f"{rows['train']} rows, {rows['train'] // 4} per topic, "
                              "with label noise (below)"),
        ("topic_dev.jsonl", f"{rows['dev']} rows, {rows['dev'] // 4} per topic, clean"),
        ("topic_test.jsonl", f"{rows['test']} rows, {rows['test'] // 4} per topic, clean; "
                             "holds the lecture's 4 examples"),
        ("pretrain.txt", f"{st['pretrain_lines']:,} lines, {st['pretrain_words']:,} words; "
                         "one 1-4 sentence \"article\" a line"),
        ("lm_valid.txt", f"{st['valid_lines']:,} held-out lines ({st['valid_words']:,} words), "
                         "same distribution, for perplexity"),
    ]
    baselines = [
        ("majority class", "25.0 %", "50.0 %"),
        ("most topical keyword (rule below)", pct(st["keyword_rule"]), ""),
        ("bag-of-words logistic regression", pct(b["topic_logreg_test"]),
         pct(b["sentiment_logreg_test"])),
    ]
    return {
        "files_table": "\n".join(f"| `{name}` | {size_text(sizes[name])} | {what} |"
                                 for name, what in files),
        "kinds_table": "\n".join(f"| {k} | {pct(st['kinds'][k])} | {note} |"
                                 for k, note in KIND_NOTES.items()),
        "keywords_table": "\n".join(f"| {t} | {', '.join(ws)} |"
                                    for t, ws in st["top_keywords"].items()),
        "baselines_table": "\n".join(f"| {m} | {t} | {s} |" for m, t, s in baselines),
    }


def data_card(st: dict, sizes: dict[str, int], seed: int) -> str:
    """DATA_CARD.md from the measured statistics."""
    noise, kinds = st["noise"], st["kinds"]
    n_rows = noise["rows"]
    values = {
        **card_tables(st, sizes),
        "seed": seed,
        "words_min": st["words_min"], "words_max": st["words_max"],
        "words_mean": st["words_mean"], "two_sentence": pct(st["two_sentence"]),
        "n_items": sum(st["rows"].values()),
        "ambiguous": pct(kinds["bridge"] + kinds["mixed"]),
        "second_topic": pct(kinds["context"] + kinds["cross"]),
        "n_train": n_rows,
        "topic_flipped": noise["topic_flipped"],
        "topic_flipped_pct": pct(noise["topic_flipped"] / n_rows),
        "sentiment_flipped": noise["sentiment_flipped"],
        "sentiment_flipped_pct": pct(noise["sentiment_flipped"] / n_rows),
        "pretrain_cue": pct(st["pretrain_cue"]), "valid_cue": pct(st["valid_cue"]),
        "pretrain_tone_cue": pct(st["pretrain_tone_cue"]),
        "valid_tone_cue": pct(st["valid_tone_cue"]),
        "vocab": f"{st['vocab']:,}", "vocab_words": f"{st['vocab_words']:,}",
        "numbers": st["numbers"], "vocab_rare": st["vocab_rare"],
        "keyword_rule_10": pct(st["keyword_rule_10"]),
        "keyword_rule_raw": pct(st["keyword_rule_raw"]),
    }
    return Template(TEMPLATE.read_text()).substitute(values)
