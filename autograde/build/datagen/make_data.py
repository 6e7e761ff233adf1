"""Generate the bundled teaching data of the "Model Efficiency" lecture into course_lib/data/.

    python -m autograde.build.datagen.make_data        # from the repository root; a few seconds

One fixed seed, nothing downloads, byte-identical output on every run. It writes
``topic_{train,dev,test}.jsonl`` (2400 / 400 / 800 labelled news sentences: 4 topics, and a
sentiment label balanced inside each topic; the lecture's four examples are test rows),
``pretrain.txt`` (40k unlabelled one-line articles for the tiny masked and causal LMs),
``lm_valid.txt`` (2000 held-out lines; LM lines carry topic and tone cues, see the card) and
``DATA_CARD.md`` (what they hold and why; rendered from ``card_template.md`` by ``card.py``).

The words and sentence templates are data, in ``lexicon/*.json`` (``lexicon/README.md`` says
what each file holds). A template's slot ``{name}`` is filled from ``words.json``, or, for a
tone-bearing slot, from ``tone.json`` in the sentence's sentiment. Why the data look the way they
do (shared entities, ambiguous and cross-over items, label noise, context-dependent tone) is in
the data card.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import defaultdict
from pathlib import Path

from course_lib.datasets import DATA_DIR, TOPICS

from .card import collect_stats, data_card, word_count

SEED = 11  # lecture 11
LABEL_WORDS = [t.lower() for t in TOPICS]

# (text, topic, sentiment): the lecture's examples, placed verbatim in the test split.
LECTURE_EXAMPLES = [
    ("The Houston Rockets won an intense overtime game", 0, 1),
    ("Bitcoin hit a new all-time high this week", 1, 1),
    ("Tesla launched a new self-driving software update", 2, 1),
    ("Flu cases are rising in several major cities", 3, 0),
]

SPLIT_SIZES = {"train": 600, "dev": 100, "test": 200}  # rows per topic
N_PRETRAIN_LINES = 40_000
N_VALID_LINES = 2_000

# Item mix (probabilities per topic item / sentence).
P_CROSS = 0.15  # cross-over template: vocabulary of another topic, label still clear
P_CONTEXT = 0.25  # main sentences only: "..., a week after a measles outbreak in Houston"
P_BRIDGE = 0.16  # ambiguous template shared by two topics
P_MIXED = 0.06  # lead sentence + a brief from another topic
P_FOLLOWUP = 0.18  # add a second sentence
P_CONTRAST = 0.12  # "despite <opposite tone>, <main clause>"
P_OPENING = 0.15  # "On Friday, ..." / "In Denver, ..."
P_FINAL_PERIOD = 0.55  # topic items end with "." (the lecture's examples do not)
NOISE_TOPIC = 0.04  # train only
NOISE_SENTIMENT = 0.03  # train only
P_CUE = 0.06  # pretrain lines with a label-word cue
P_CUE_WRONG = 0.2  # of those, the cue names a wrong topic (tags on the web are noisy)
P_SAME_TONE = 0.8  # each further sentence of an LM line without a tone cue keeps its tone
P_TONE_CUE = 1.0  # LM lines in one tone with a tone cue ("It was bad news for investors."): all
P_TONE_CUE_BEFORE = 0.3  # of those, the cue opens the line ("Great news for fans: ...")
P_TONE_CUE_INSIDE = 0.5  # or it ends the first sentence (", a setback for patients.")

# --- The lexicon (lexicon/*.json), keyed by label ids; tone 1 = positive, 0 = negative. ----------

LEXICON = Path(__file__).resolve().parent / "lexicon"


def load_lexicon(name: str):
    return json.loads((LEXICON / f"{name}.json").read_text())


def by_topic(table: dict) -> dict:
    """{"Sports": x, ...} -> {0: x, ...}"""
    return {TOPICS.index(name): value for name, value in table.items()}


def by_tone(table: dict) -> dict:
    """{"positive": x, "negative": y[, "neutral": z]} -> {1: x, 0: y[, None: z]}"""
    keys = {"positive": 1, "negative": 0, "neutral": None}
    return {keys[name]: value for name, value in table.items()}


WORDS: dict[str, list[str]] = load_lexicon("words")
TONE: dict[str, dict[int, list[str]]] = {k: by_tone(v) for k, v in load_lexicon("tone").items()}
MAIN: dict[int, list[str]] = by_topic(load_lexicon("main"))
CROSS: dict[int, list[str]] = by_topic(load_lexicon("cross"))
BRIDGE = [(tuple(TOPICS.index(t) for t in pair.split(" / ")), template)
          for pair, templates in load_lexicon("bridge").items() for template in templates]
_context = load_lexicon("context")
CONTEXT, CONTEXT_LINKS = by_topic(_context["events"]), _context["links"]
FOLLOWUPS = {t: by_tone(table) for t, table in by_topic(load_lexicon("followups")).items()}
_openings = load_lexicon("openings")
TIME_OPENINGS, PLAIN_OPENINGS = _openings["time"], _openings["plain"]
CONTRASTS, NOMINALS = _openings["contrast"], by_topic(_openings["contrast_nominal"])
MIXED_LINKS = _openings["mixed_links"]
CUES = load_lexicon("cues")
TONE_CUES = load_lexicon("tone_cues")
AUDIENCE = by_topic(TONE_CUES["audience"])
BRIDGES_OF = {t: [tpl for pair, tpl in BRIDGE if t in pair] for t in range(len(TOPICS))}

# --- Filling templates ---------------------------------------------------------------------------

SLOT = re.compile(r"\{(o_)?([a-z_]+?)(\d?)\}")


def choose_value(name: str, sentiment: int, rng: random.Random) -> str:
    """One raw value for a slot name, tone-aware for tone-bearing slots."""
    if name in TONE:
        return rng.choice(TONE[name][sentiment])
    return rng.choice(WORDS[name])


def fill(template: str, sentiment: int, rng: random.Random, depth: int = 0) -> str:
    """Replace every {slot} of the template (recursively).

    {x} and {x2} in one template get different values; a repeated {x} gets the same value;
    {o_x} uses the opposite tone.
    """
    chosen: dict[str, str] = {}  # slot token -> value (per template)

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token in chosen:
            return chosen[token]
        opposite, name, _ = match.groups()
        tone = 1 - sentiment if opposite else sentiment
        taken = {v for t, v in chosen.items() if SLOT.match(t).group(2) == name}
        for _ in range(20):
            value = fill(choose_value(name, tone, rng), tone, rng, depth + 1)
            if not taken or value.split()[-1] not in {v.split()[-1] for v in taken}:
                break
        chosen[token] = value
        return value

    if depth > 4:
        raise ValueError(f"slot recursion too deep in {template!r}")
    return SLOT.sub(replace, template)


ARTICLE = re.compile(r"\b([Aa])n? (\S+)")


def starts_with_vowel_sound(word: str) -> bool:
    """Rough English rule for a/an, good enough for this vocabulary."""
    w = word.lower()
    if w[0].isdigit():
        return w.startswith("8") or w in {"11", "18"}
    if w.startswith(("uni", "use", "usu", "eu", "one")):
        return False
    if w.startswith(("hour", "honest")):
        return True
    return w[0] in "aeiou" or word in {"FDA", "NBA", "MRI"}


def fix_articles(sentence: str) -> str:
    """Turn 'a intense' into 'an intense' and 'an game' into 'a game'."""
    def repl(m: re.Match) -> str:
        a = m.group(1)
        return (a + "n " if starts_with_vowel_sound(m.group(2)) else a + " ") + m.group(2)

    return ARTICLE.sub(repl, sentence)


def cap(sentence: str) -> str:
    """Capitalise the first letter, but leave words like 'iPhone' or 'macOS' alone."""
    first = sentence.split(" ", 1)[0]
    if any(c.isupper() for c in first[1:]):
        return sentence
    return sentence[:1].upper() + sentence[1:]


def _common_words() -> set[str]:
    """Words that begin templates in lowercase, i.e. not names."""
    words = set()
    openings = TIME_OPENINGS + PLAIN_OPENINGS + CONTRASTS
    for group in list(MAIN.values()) + list(CROSS.values()) + [openings]:
        for t in group:
            first = t.split(" ", 1)[0]
            if not first.startswith("{"):
                words.add(first.strip(","))
    for table in FOLLOWUPS.values():
        for group in table.values():
            words.update(t.split(" ", 1)[0] for t in group)
    return words


COMMON_WORDS = _common_words()


def low(sentence: str) -> str:
    """Lowercase the first letter unless the first word is a name (capitalised in the lexicon)."""
    first = sentence.split(" ", 1)[0]
    if first.lower() in COMMON_WORDS and first[:1].isupper():
        return sentence[:1].lower() + sentence[1:]
    return sentence


def normalise(sentence: str) -> str:
    """Key for duplicate and overlap checks: lowercase, no trailing punctuation or spaces."""
    return sentence.lower().strip().rstrip(".?! ")


# --- Sentences, items and articles ---------------------------------------------------------------


def pick_template(topic: int, rng: random.Random) -> tuple[str, str]:
    """(template, kind): a main template mostly, sometimes a cross-over or a bridge."""
    r = rng.random()
    if r < P_CROSS:
        return rng.choice(CROSS[topic]), "cross"
    if r < P_CROSS + P_BRIDGE:
        return rng.choice(BRIDGES_OF[topic]), "bridge"
    return rng.choice(MAIN[topic]), "main"


def main_sentence(topic: int, sentiment: int, rng: random.Random) -> tuple[str, str, str]:
    """(sentence, kind, core): one raw (uncapitalised, unpunctuated) sentence with topic and
    tone, how it was made, and its filled template without openings (for overlap checks)."""
    template, kind = pick_template(topic, rng)
    body = fill(template, sentiment, rng)
    core = normalise(fix_articles(body))
    if kind == "main" and rng.random() < P_CONTEXT:  # an event from another topic
        return fix_articles(with_context(body, topic, rng)), "context", core
    r = rng.random()
    if r < P_CONTRAST:  # opposite-tone words before the main clause
        nom = fill("{" + NOMINALS[topic] + "}", 1 - sentiment, rng)
        body = rng.choice(CONTRASTS).format(nom=nom) + body
    elif r < P_CONTRAST + P_OPENING:
        has_time = any(t in template for t in ("{when}", "{day}", "{month}", "{year}"))
        openings = PLAIN_OPENINGS if has_time else PLAIN_OPENINGS + TIME_OPENINGS
        body = fill(rng.choice(openings), sentiment, rng) + body
    return fix_articles(body), kind, core


def with_context(body: str, topic: int, rng: random.Random) -> str:
    """Attach a news event of another topic before or after the main clause."""
    other = (topic + rng.randint(1, 3)) % len(TOPICS)
    context = rng.choice(CONTEXT_LINKS) + " " + fill(rng.choice(CONTEXT[other]), 1, rng)
    if rng.random() < 0.5:
        return context + ", " + body
    return body + ", " + context


def followup_sentence(topic: int, sentiment: int, rng: random.Random) -> str:
    """A short second sentence: same tone or neutral."""
    table = FOLLOWUPS[topic]
    group = table[None] if rng.random() < 0.3 else table[sentiment]
    return fix_articles(fill(rng.choice(group), sentiment, rng))


def brief_sentence(topic: int, sentiment: int, rng: random.Random, max_words: int) -> str:
    """A short sentence from another topic, as in a news digest ("Meanwhile, ...")."""
    other = (topic + rng.randint(1, 3)) % len(TOPICS)
    link = rng.choice(MIXED_LINKS)
    for _ in range(10):
        brief = fix_articles(link + fill(rng.choice(MAIN[other]), sentiment, rng))
        if word_count(brief) <= max_words:
            break
    return brief


def topic_item(topic: int, sentiment: int, rng: random.Random) -> tuple[str, str, str]:
    """(text, key, kind): a labelled item, the core of its main sentence (kept out of the
    pretraining text) and how it was made (main, cross, bridge, context or mixed)."""
    first, kind, core = main_sentence(topic, sentiment, rng)
    sentences = [cap(first)]
    r = rng.random()
    if r < P_MIXED:
        brief = brief_sentence(topic, sentiment, rng, max_words=30 - word_count(first))
        sentences.append(cap(brief))
        kind = "mixed"
    elif r < P_MIXED + P_FOLLOWUP:
        sentences.append(cap(followup_sentence(topic, sentiment, rng)))
    text = ". ".join(sentences)
    if rng.random() < P_FINAL_PERIOD:
        text += "."
    return text, core, kind


# --- The labelled topic / sentiment task ---------------------------------------------------------


def make_topic_splits(rng: random.Random) -> tuple[dict[str, list[dict]], set[str], dict]:
    """Balanced train/dev/test rows, the lecture's examples in test, noise in train only.

    Returns (splits, held_out, info): held_out holds the cores of the dev/test main sentences
    (kept out of the pretraining text); info has the noise counts and each text's kind.
    """
    seen = {normalise(t) for t, _, _ in LECTURE_EXAMPLES}  # texts and cores already used
    core_of = {t: normalise(t) for t, _, _ in LECTURE_EXAMPLES}
    kind_of = {t: "main" for t, _, _ in LECTURE_EXAMPLES}
    splits: dict[str, list[dict]] = {name: [] for name in SPLIT_SIZES}
    per_cell = {name: n // 2 for name, n in SPLIT_SIZES.items()}  # per (topic, sentiment)
    for topic in range(len(TOPICS)):
        for sentiment in (1, 0):
            texts = [t for t, y, s in LECTURE_EXAMPLES if (y, s) == (topic, sentiment)]
            while len(texts) < sum(per_cell.values()):
                text, core, kind = topic_item(topic, sentiment, rng)
                if {normalise(text), core} & seen or not 8 <= word_count(text) <= 30:
                    continue
                seen.update((normalise(text), core))
                core_of[text], kind_of[text] = core, kind
                texts.append(text)
            start = 0  # the lecture's examples come first, so they land in test
            for name in ("test", "dev", "train"):
                for text in texts[start:start + per_cell[name]]:
                    splits[name].append({"text": text, "topic": topic, "sentiment": sentiment})
                start += per_cell[name]
    for rows in splits.values():
        rng.shuffle(rows)
    held_out = {core_of[r["text"]] for name in ("dev", "test") for r in splits[name]}
    noise = add_label_noise(splits["train"], rng)
    return splits, held_out, {"noise": noise, "kind_of": kind_of}


def add_label_noise(rows: list[dict], rng: random.Random) -> dict:
    """Flip a fixed fraction of train labels, keeping every class count unchanged.

    Topic: in each (topic, sentiment) cell some rows move to the other three topics in equal
    shares, so each topic loses as many rows as it receives. Sentiment: in each cell of the
    noisy topics the same number of rows flips either way.
    """
    n_cells = len(TOPICS) * 2
    per_cell_topic = round(NOISE_TOPIC * len(rows) / n_cells)
    per_cell_sent = round(NOISE_SENTIMENT * len(rows) / n_cells)

    def cells() -> list[list[int]]:
        return [[i for i, r in enumerate(rows) if (r["topic"], r["sentiment"]) == (t, s)]
                for t in range(len(TOPICS)) for s in (1, 0)]

    for cell in cells():
        for j, i in enumerate(rng.sample(cell, per_cell_topic)):
            rows[i]["topic"] = (rows[i]["topic"] + 1 + j % 3) % len(TOPICS)
    for cell in cells():
        for i in rng.sample(cell, per_cell_sent):
            rows[i]["sentiment"] = 1 - rows[i]["sentiment"]
    return {"topic_flipped": per_cell_topic * n_cells,
            "sentiment_flipped": per_cell_sent * n_cells, "rows": len(rows)}


# --- Unlabelled text for the language models -----------------------------------------------------


def article(rng: random.Random, forbidden: set[str],
            one_tone: bool = False) -> tuple[list[str], int, int]:
    """(sentences, topic, tone): 1-4 capitalised sentences on one topic, mostly in one tone
    (always, if one_tone); no main sentence is a held-out labelled one."""
    topic = rng.randrange(len(TOPICS))
    n = rng.choices([1, 2, 3, 4], weights=[50, 32, 13, 5])[0]
    tone = rng.randint(0, 1)  # an article mostly keeps one tone
    sentences = []
    for i in range(n):
        sentiment = tone if one_tone or rng.random() < P_SAME_TONE else 1 - tone
        if i > 0 and rng.random() < 0.4:
            follow = cap(followup_sentence(topic, sentiment, rng))
            if follow not in sentences:  # never the same sentence twice in a line
                sentences.append(follow)
            continue
        while True:
            s, _, core = main_sentence(topic, sentiment, rng)
            if core not in forbidden:
                break
        if i > 0 and rng.random() < 0.15:  # "Meanwhile, ...", as in a news digest
            s = rng.choice(MIXED_LINKS) + s
        if cap(s) not in sentences:
            sentences.append(cap(s))
    return sentences, topic, tone


def with_cue(sentences: list[str], topic: int, rng: random.Random) -> str:
    """Join an article and add a label-word cue at the start, the end or in the middle."""
    if rng.random() < P_CUE_WRONG:
        topic = rng.choice([t for t in range(len(LABEL_WORDS)) if t != topic])
    label = LABEL_WORDS[topic]
    text = " ".join(s + "." for s in sentences)
    r = rng.random()
    if r < 0.15 and len(sentences) >= 2:
        k = rng.randrange(1, len(sentences))
        s1 = " ".join(s + "." for s in sentences[:k])
        s2 = " ".join(s + "." for s in sentences[k:])
        form = rng.choice(CUES["middle"])
        return form.format(s1=s1, s2=s2, s2low=low(s2), l=label)
    form = rng.choice(CUES["prefix"] if r < 0.5 else CUES["suffix"])
    return form.format(text=text, low=low(text), l=label, L=label.capitalize())


def tone_cue_of(sentences: list[str], topic: int, tone: int, rng: random.Random,
                cue_first: bool) -> tuple[list[str], str, str]:
    """(sentences, before, after): say how good or bad the news is for the topic's audience,
    opening the line ("Great news for fans: ..."; not if a label-word cue may open it), closing
    its first sentence ("..., a setback for patients.") or after it ("... It was bad news for
    investors."). The cue's words follow the tone: a masked LM that predicts them has to tell
    "rose" from "fell" in context."""
    r = rng.random()
    place = ("before" if r < P_TONE_CUE_BEFORE and not cue_first else
             "inside" if r < P_TONE_CUE_BEFORE + P_TONE_CUE_INSIDE else "after")
    form = rng.choice(TONE_CUES[place]).replace("{audience}", "{" + AUDIENCE[topic] + "}")
    cue = fill(form, tone, rng)
    if place == "inside":
        return [f"{sentences[0]}, {cue}", *sentences[1:]], "", ""
    if place == "before":
        return sentences, cap(cue) + " ", ""
    return sentences, "", " " + cap(cue)


class TextIndex:
    """Finds whether a line contains one of many texts (case-insensitive), via 3-word prefixes."""

    def __init__(self, texts: list[str]):
        self.by_prefix: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for text in texts:
            norm = normalise(text)
            self.by_prefix[tuple(norm.split()[:3])].append(norm)

    def found_in(self, line: str) -> bool:
        lower = line.lower()
        words = lower.split()
        for i in range(len(words) - 2):
            for norm in self.by_prefix.get(tuple(words[i:i + 3]), ()):
                if norm in lower:
                    return True
        return False


def make_lm_lines(n: int, rng: random.Random, forbidden: set[str], held_out: TextIndex,
                  exclude_lines: set[str]) -> tuple[list[str], int]:
    """n unique lines of LM text that contain no held-out labelled text.

    Returns (lines, number of lines with a label-word cue, number with a tone cue).
    """
    lines, seen, n_cue, n_tone = [], set(exclude_lines), 0, 0
    while len(lines) < n:
        tone_cue = rng.random() < P_TONE_CUE
        sentences, topic, tone = article(rng, forbidden, one_tone=tone_cue)
        cue = rng.random() < P_CUE
        before = after = ""
        if tone_cue:
            sentences, before, after = tone_cue_of(sentences, topic, tone, rng, cue_first=cue)
        line = with_cue(sentences, topic, rng) if cue else " ".join(s + "." for s in sentences)
        line = before + line + after
        if line in seen or held_out.found_in(line):
            continue
        seen.add(line)
        lines.append(line)
        n_cue += cue
        n_tone += tone_cue
    return lines, n_cue, n_tone


# --- Checks and writing --------------------------------------------------------------------------


def check(splits: dict[str, list[dict]], pretrain: list[str], valid: list[str]) -> None:
    """Fail loudly if a promise of the data card does not hold."""
    test_texts = {r["text"] for r in splits["test"]}
    for text, _, _ in LECTURE_EXAMPLES:
        assert text in test_texts, text
    all_texts = [r["text"] for rows in splits.values() for r in rows]
    assert len(set(all_texts)) == len(all_texts), "duplicate topic texts"
    assert not set(valid) & set(pretrain), "lm_valid overlaps pretrain"
    corpus = "\n".join(pretrain + valid).lower()
    for name in ("dev", "test"):
        for r in splits[name]:
            assert normalise(r["text"]) not in corpus, f"{name} text in LM text: {r['text']}"
    for line in pretrain + valid + all_texts:
        assert line.isascii() and "\n" not in line, line


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=True) + "\n" for row in rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DATA_DIR, help=f"output folder ({DATA_DIR})")
    out = ap.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)

    def write(name: str, content: str) -> int:
        """Write one file under `out` with Unix newlines; returns its size in bytes."""
        data = content.encode("ascii")
        (out / name).write_bytes(data)
        return len(data)

    t0 = time.time()
    splits, held_out, info = make_topic_splits(random.Random(SEED))
    index = TextIndex([r["text"] for name in ("dev", "test") for r in splits[name]])
    pretrain, n_cue, n_tone = make_lm_lines(N_PRETRAIN_LINES, random.Random(SEED + 1),
                                            held_out, index, set())
    valid, n_cue_valid, n_tone_valid = make_lm_lines(N_VALID_LINES, random.Random(SEED + 2),
                                                     held_out, index, set(pretrain))
    check(splits, pretrain, valid)
    sizes = {f"topic_{name}.jsonl": write(f"topic_{name}.jsonl", jsonl(rows))
             for name, rows in splits.items()}
    sizes["pretrain.txt"] = write("pretrain.txt", "\n".join(pretrain) + "\n")
    sizes["lm_valid.txt"] = write("lm_valid.txt", "\n".join(valid) + "\n")
    stats = collect_stats(splits, pretrain, valid, (n_cue, n_tone), (n_cue_valid, n_tone_valid),
                          info)
    write("DATA_CARD.md", data_card(stats, sizes, SEED))
    print(f"topic rows {stats['rows']}, pretrain {stats['pretrain_lines']} lines "
          f"({stats['pretrain_words']} words, {stats['pretrain_cue']:.0%} with a topic cue, "
          f"{stats['pretrain_tone_cue']:.0%} with a tone cue), "
          f"vocabulary {stats['vocab']} tokens, keyword rule {stats['keyword_rule']:.1%}")
    print(f"wrote {out} in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
