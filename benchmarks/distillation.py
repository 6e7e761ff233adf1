"""Distillation: the notebook's own figures (solutions/distillation/distillation.ipynb, run here) and
its claims, the comparisons repeated on more training orders (seeds).

The notebook's code cells run in this process (benchmarks/_notebook.py): the 2-layer student's
parameters and speed against the 4-layer fine-tuned teacher (DistilBERT: 66M / 110M parameters,
410 / 668 s, 97% of the GLUE score), the three topic students and the temperature (again on seeds
1 and 2 with the notebook's own train_student), DistilBERT's triple loss on masked-LM text, and the
LM recipes (copy the teacher's text, token-level KL, real text; again on seeds 1 and 2).
"""

from __future__ import annotations

from statistics import mean

from benchmarks._notebook import namespace
from course_lib import measure

SEEDS = (0, 1, 2)


def _claim(cid, text, slide, holds):
    return {"id": f"distillation.{cid}", "notebook": "distillation", "text": text,
            "slide": slide, "holds": bool(holds)}


def run() -> list[dict]:
    ns = namespace("distillation")
    rows = []
    teacher, students, accs, teacher_acc = ns["teacher"], ns["students"], ns["accs"], \
        ns["teacher_acc"]
    n_t, n_s = measure.count_parameters(teacher), ns["n_student"]
    rows.append({"figure": "distillation: student / teacher parameters (2 of 4 layers)",
                 "value": f"{n_s / n_t:.2f} ({n_s:,} / {n_t:,})",
                 "lecture": "DistilBERT 66M / 110M = 0.60"})
    batch, student = ns["test_batch"], students[list(students)[-1]]
    with ns["torch"].no_grad():                              # interleaved rounds: fair under load
        t = measure.interleaved({"teacher": lambda: teacher(**batch),
                                 "student": lambda: student(**batch)}, rounds=9, repeats=3)
    speedup, low, high = measure.ratio_spread(t["teacher"], t["student"])
    rows.append({"figure": "distillation: student speed-up (inference, 400 sentences, median of "
                           "9 interleaved rounds; lowest, highest round)",
                 "value": f"{speedup:.2f}x ({low:.2f}x, {high:.2f}x)",
                 "lecture": "DistilBERT 668 / 410 s = 1.63x",
                 "claim": _claim("student_speedup", "The half-depth student runs in about half "
                                 "the teacher's time (speed-up of at least 1.5x)",
                                 "DistilBERT: 410 s vs 668 s", speedup >= 1.5)})

    # the three students and the temperature, on more training orders
    evaluate, tok, test = ns["evaluate"], ns["tok"], ns["test"]
    train, make = ns["train_student"], ns["make_student"]
    names = list(students)                                   # scratch, teacher layers, distilled
    acc = {(k, 0): accs[names[i]] for i, k in enumerate(("scratch", "hard", "T2"))}
    acc["T1", 0] = ns["t_acc"][1.0]
    acc["T8", 0] = evaluate(train(make(True), T=8.0, seed=0), tok, test)
    for seed in SEEDS[1:]:
        acc["scratch", seed] = evaluate(train(make(False), seed=seed), tok, test)
        acc["hard", seed] = evaluate(train(make(True), seed=seed), tok, test)
        for T in (1.0, 2.0, 8.0):
            acc[f"T{T:g}", seed] = evaluate(train(make(True), T=T, seed=seed), tok, test)
    avg = {k: mean(acc[k, s] for s in SEEDS) for k in ("scratch", "hard", "T1", "T2", "T8")}
    rows.append({"figure": "distillation: accuracy retained, distilled student (T=2, alpha=0.5), "
                           "seed 0", "value": f"{accs[names[2]] / teacher_acc:.1%} "
                                              f"({accs[names[2]]:.1%} / {teacher_acc:.1%})",
                 "lecture": "DistilBERT: 97% of BERT's GLUE score (77.0 / 79.5)"})
    rows.append({"figure": f"distillation: topic students over seeds {SEEDS}: mean accuracy from "
                           f"scratch / teacher layers, hard labels / distilled (T=2)",
                 "value": f"{avg['scratch']:.1%} / {avg['hard']:.1%} / {avg['T2']:.1%}",
                 "lecture": "mimic the teacher's behaviour, learn from data",
                 "claim": [
                     _claim("init_beats_scratch", "A student initialised from teacher layers "
                            "does better than one from scratch (mean over three seeds)",
                            "DistilBERT: initialised from the teacher", avg["hard"] > avg["scratch"]),
                     _claim("soft_targets_help", "The distilled student does better than the same "
                            "student trained on hard labels (mean over three seeds)",
                            "Model distillation", avg["T2"] > avg["hard"])]})
    rows.append({"figure": f"distillation: temperature over seeds {SEEDS}: mean accuracy at T = 1 "
                           f"/ 2 / 8", "value": f"{avg['T1']:.1%} / {avg['T2']:.1%} / {avg['T8']:.1%}",
                 "lecture": "soft targets: softmax(z / T)",
                 "claim": _claim("temperature_flat", "T = 1, 2 and 8 give mean accuracies (over "
                                 "three seeds) within a point of each other", "-",
                                 max(avg[k] for k in ("T1", "T2", "T8"))
                                 - min(avg[k] for k in ("T1", "T2", "T8")) <= 0.01)})

    q = ns["mlm_quality"]
    mlm, soft, triple = (q[f"Student: {n}"][1] for n in ns["MLM_LOSSES"])
    teacher_ppl = q["Teacher (4 layers)"][1]
    rows.append({"figure": "DistilBERT losses, masked-token perplexity: teacher / MLM only / + "
                           "soft targets / triple loss",
                 "value": f"{teacher_ppl:.2f} / {mlm:.2f} / {soft:.2f} / {triple:.2f}",
                 "lecture": "DistilBERT: distillation + MLM + cosine",
                 "claim": [
                     _claim("mlm_soft_targets_help", "Soft targets give the MLM student a lower "
                            "masked-token perplexity than the MLM loss alone", "DistilBERT",
                            soft < mlm),
                     _claim("mlm_student_beats_teacher", "The MLM-only student predicts held-out "
                            "masked tokens better (lower perplexity) than the teacher", "-",
                            mlm < teacher_ppl),
                     _claim("cosine_small", "Adding the cosine term changes the masked-token "
                            "perplexity by less than 5% at this budget", "-",
                            abs(triple - soft) < 0.05 * soft)]})

    # the LM recipes on more seeds (training order and the teacher's samples)
    ppl, train_lm, perplexity = ns["ppl"], ns["train_lm"], ns["perplexity"]
    gen, lm_teacher, torch = ns["generate_uncached"], ns["lm_teacher"], ns["torch"]
    lm = {0: [ppl[k] for k in list(ppl)[2:5]]}                 # copy, token KL, real
    for seed in SEEDS[1:]:
        g = torch.Generator(device=ns["device"]).manual_seed(seed)
        text = gen(lm_teacher, ns["start"], ns["SEQ_LEN"] - 1, temperature=1.0, generator=g)
        lm[seed] = [perplexity(train_lm(text, False, seed)),
                    perplexity(train_lm(ns["real_text"], True, seed)),
                    perplexity(train_lm(ns["real_text"], False, seed))]
    copy_, kl, real = (mean(lm[s][i] for s in SEEDS) for i in range(3))
    rows.append({"figure": f"LM distillation over seeds {SEEDS}: mean perplexity, copy teacher's "
                           f"text / token-level KL / real text (teacher {ppl[list(ppl)[0]]:.2f})",
                 "value": f"{copy_:.2f} / {kl:.2f} / {real:.2f}",
                 "lecture": "LLM distillation: copy training data",
                 "claim": [
                     _claim("token_kl_best", "Token-level KL gives the LM student the lowest "
                            "perplexity of the three recipes (mean over three seeds)", "-",
                            kl < min(copy_, real)),
                     _claim("copy_no_better_than_real", "Training on the teacher's text does about "
                            "as well as real text of the same size: mean perplexities over three "
                            "seeds within 5% of each other", "-",
                            abs(copy_ - real) <= 0.05 * real)]})
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['figure']}: {r['value']}   [{r['lecture']}]")
