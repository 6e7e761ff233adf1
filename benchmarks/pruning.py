"""Pruning: the notebook's own figures (solutions/pruning/pruning.ipynb, run here) and its claims.

The notebook's code cells run in this process (benchmarks/_notebook.py): accuracy of the fine-tuned
encoder after magnitude pruning (per layer and global), recovery, neuron removal, head gating by
importance, layer dropping (the lecture's table: BERT SST-2 92.43 -> 92.20 / 90.60 / 90.25 with
2 / 4 / 6 of 12 layers dropped), and the honest timing of zeroed against removed weights.
"""

from __future__ import annotations

from benchmarks._notebook import namespace


def _claim(cid, text, slide, holds):
    return {"id": f"pruning.{cid}", "notebook": "pruning", "text": text, "slide": slide,
            "holds": bool(holds)}


def run() -> list[dict]:
    ns = namespace("pruning")
    base, curves = ns["base_acc"], ns["curves"]
    acc = {how: dict(zip([0.0] + ns["SPARSITIES"], [a for _, a in pts]))
           for how, pts in curves.items() if how in ("per layer", "global")}
    rows = [{"figure": "fine-tuned [CLS] classifier, test accuracy", "value": f"{base:.1%}",
             "lecture": "-"}]
    for p in (0.5, 0.7, 0.9):
        rows.append({"figure": f"{p:.0%} of linear weights pruned (per layer / global), no "
                               f"retraining", "value": f"{acc['per layer'][p]:.1%} / "
                                                       f"{acc['global'][p]:.1%}",
                     "lecture": "keeps performance with fewer weights"})
    rows[1]["claim"] = _claim("half_free", "Pruning 50% of the linear weights (per layer or "
                              "global) costs at most 1.5 points, without retraining",
                              "Pruning keeps performance with fewer weights",
                              min(acc["per layer"][0.5], acc["global"][0.5]) >= base - 0.015)
    rows[3]["claim"] = _claim("global_beats_per_layer", "Global ranking is at least as accurate "
                              "as per-layer pruning at every sparsity of the notebook's table "
                              f"({', '.join(f'{p:.0%}' for p in ns['SPARSITIES'])})", "-",
                              all(acc["global"][p] >= acc["per layer"][p]
                                  for p in ns["SPARSITIES"]))
    rec, g90 = ns["recovered_acc"], acc["global"][0.9]
    rows.append({"figure": "global 90%: accuracy without retraining -> after one epoch with the "
                           "mask fixed", "value": f"{g90:.1%} -> {rec:.1%} (unpruned {base:.1%})",
                 "lecture": "-",
                 "claim": _claim("recovery", "One epoch of fine-tuning with the mask fixed wins "
                                 "back more than half of what pruning 90% globally lost", "-",
                                 rec - g90 > 0.5 * (base - g90))})
    for (s, a), p in zip(curves["neurons (FFN)"][1:], ns["NEURON_AMOUNTS"]):
        rows.append({"figure": f"{p:.0%} of FFN neurons removed ({s:.0%} of linear weights), no "
                               f"retraining", "value": f"{a:.1%}", "lecture": "prune neurons"})
    half = dict(zip(ns["NEURON_AMOUNTS"], [a for _, a in curves["neurons (FFN)"][1:]]))[0.5]
    rows[-1]["claim"] = _claim("neurons_redundant", "Removing half of the FFN neurons costs "
                               "less than a point without retraining", "Prune neurons",
                               half > base - 0.01)
    heads, counts = ns["head_curves"], ns["HEADS_PRUNED"]
    least, most = heads["least important first"], heads["most important first"]
    for n, a, b in zip(counts[1:], least[1:], most[1:]):
        rows.append({"figure": f"{n} of 16 heads gated off (least / most important first)",
                     "value": f"{a:.1%} / {b:.1%}", "lecture": "prune attention heads"})
    eight = least[counts.index(8)]
    rows[-1]["claim"] = _claim("heads_by_importance", "Gating off 8 of 16 heads, least important "
                               "first, costs less than two points, and most important first "
                               "costs more at every count", "Prune attention heads",
                               eight > base - 0.02 and all(b < a for a, b in
                                                           zip(least[1:], most[1:])))
    layers = ns["layer_acc"]
    for n, (plain, tuned) in layers.items():
        if n:
            rows.append({"figure": f"drop top {n}/4 layers: accuracy as is / after 1 epoch",
                         "value": f"{plain:.1%} / {tuned:.1%}",
                         "lecture": "BERT SST-2: 92.43 -> 92.20 (2/12), 90.60 (4/12), 90.25 "
                                    "(6/12)"})
    rows[-1]["claim"] = [
        _claim("top_layers_recover", "After one epoch of fine-tuning the encoder keeps at least "
               "95% of its accuracy with 1, 2 or 3 of its 4 top layers dropped",
               "Prune layers (dropping top layers)",
               all(t >= 0.95 * base for n, (_, t) in layers.items() if n)),
        _claim("top_layers_as_is", "Without retraining, dropping the top layer costs at most a "
               "point, and each further layer dropped costs more", "-",
               base - layers[1][0] <= 0.01
               and layers[1][0] > layers[2][0] > layers[3][0])]
    rows.append({"figure": "drop the bottom 2/4 layers instead (control), no retraining",
                 "value": f"{ns['bottom_acc']:.1%} (top 2: {layers[2][0]:.1%})",
                 "lecture": "dropping the top layers works best (Sajjad et al.)",
                 "claim": _claim("bottom_worse", "Dropping the bottom two layers costs more than "
                                 "dropping the top two, without retraining", "-",
                                 ns["bottom_acc"] < layers[2][0])})
    ok, timings = True, {}
    for label, d, d_ff, tokens, repeats in [("tiny FFN (64 x 256)", 64, 256, 4096, 20),
                                            ("BERT-base FFN (768 x 3072)", 768, 3072, 256, 10)]:
        t, _ = ns["ffn_timings"](d, d_ff, tokens, repeats, rounds=9)      # interleaved rounds
        timings[label] = {k: ns["measure"].ratio_spread(t["dense"], v) for k, v in t.items()}
    for label, t in timings.items():
        (zeros, z_lo, z_hi), (removed, r_lo, r_hi) = (t["50% weights zeroed"],
                                                      t["50% neurons removed"])
        ok &= 0.85 < zeros < 1.15 and removed >= 1.5
        rows.append({"figure": f"{label}: speed-up of 50% zeros / 50% neurons removed (median of "
                               f"9 interleaved rounds; lowest, highest round)",
                     "value": f"{zeros:.2f}x ({z_lo:.2f}, {z_hi:.2f}) / {removed:.2f}x "
                              f"({r_lo:.2f}, {r_hi:.2f})",
                     "lecture": "unstructured zeros do not speed up a dense matmul"})
    rows[-1]["claim"] = _claim("structured_speed", "50% zeroed weights run at the dense FFN's "
                               "speed (within 15%), 50% of the neurons removed at least 1.5x "
                               "faster, for both FFN sizes", "-", ok)
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['figure']}: {r['value']}   [{r['lecture']}]")
