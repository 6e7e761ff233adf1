"""Instructor side: how the bundled data and weights in course_lib/data were made.

Students never run these; the results are committed, so nothing here is needed to take the course.

    python -m autograde.build.datagen.make_data       # the corpus and DATA_CARD.md (make data)
    python -m autograde.build.datagen.pretrain all    # tokenizer, encoder, decoder (make pretrain)
    python -m autograde.build.datagen.probe           # what the weights can do: topic, sentiment, LM

make_data.py   the generator (fixed seed, byte-identical output)
lexicon/       its words and sentence templates, as JSON (lexicon/README.md)
card.py        the statistics DATA_CARD.md quotes, rendered into card_template.md
pretrain.py    one training loop for the masked LM (encoder, two stages) and the causal LM
probe.py       the figures that compare two sets of weights (before / after re-pre-training)
"""
