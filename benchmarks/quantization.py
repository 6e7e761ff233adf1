"""Quantization: the notebook's own figures (solutions/quantization/quantization.ipynb, run here).

The notebook's code cells run in this process (benchmarks/_notebook.py): storage and accuracy of
the fine-tuned encoder with FP16, INT8 and INT4 weights, per tensor and per channel (the lecture's
table: Llama-3.1 FP16 16 GB -> 4-bit 4 GB), the outlier-row errors, LLM.int8()'s decomposition
on activations with synthetic outlier dimensions, the one-sided tensor, the reconstruction error
against the bits, and LoRA on a 4-bit base (QLoRA) against LoRA on the fp32 base.
"""

from __future__ import annotations

from benchmarks._notebook import namespace


def _claim(cid, text, slide, holds):
    return {"id": f"quantization.{cid}", "notebook": "quantization", "text": text,
            "slide": slide, "holds": bool(holds)}


def run() -> list[dict]:
    ns = namespace("quantization")
    fp32, acc = ns["fp32_acc"], ns["accuracy"]
    storage, fp32_bytes = ns["storage_bytes"], ns["fp32_bytes"]
    rows = [{"figure": "quantization: fine-tuned encoder fp32 test accuracy",
             "value": f"{fp32:.1%}", "lecture": "Llama-3.1-8B FP16 average 69.23"}]
    for name, bits, per_channel in ns["configs"][1:]:
        whole = storage(ns["fp32_model"], bits, per_channel) / fp32_bytes
        rows.append({"figure": f"quantization: {name} linear weights, size ratio (linear "
                               f"weights / whole model)", "value": f"{bits / 32:.3f} / {whole:.2f}",
                     "lecture": "FP16 16 GB, 8-bit 8 GB, 4-bit 4 GB (8B model)"})
        rows.append({"figure": f"quantization: {name} accuracy change vs fp32",
                     "value": f"{100 * (acc[name] - fp32):+.1f} points ({acc[name]:.1%})",
                     "lecture": "8B: 8-bit methods within 0.19, 4-bit -1.26 to -2.32"})
    d = lambda name: 100 * (acc[name] - fp32)
    rows.append({"figure": "quantization: accuracy change vs fp32, " + " / ".join(
                     n for n, _, _ in ns["configs"][1:]),
                 "value": " / ".join(f"{d(n):+.1f}" for n, _, _ in ns["configs"][1:]),
                 "lecture": "8B: 8-bit methods within 0.19 points, 4-bit -1.26 to -2.32"})
    rows[-1]["claim"] = [
        _claim("int8_free", "FP16 and INT8 weights (per tensor and per channel) change the "
               "fine-tuned encoder's accuracy by at most half a point", "8B: 8-bit within 0.19",
               all(abs(d(n)) <= 0.5 for n in ("FP16", "INT8 per-tensor", "INT8 per-channel"))),
        _claim("int4_per_channel", "At 4 bits the accuracy moves by less than a point either "
               "way, per tensor or per channel", "8B: 4-bit GPTQ / AWQ -1.26 to -2.32",
               abs(d("INT4 per-tensor")) < 1 and abs(d("INT4 per-channel")) < 1)]

    err = ns["outlier_errors"]
    rows.append({"figure": "W_1 of layer 0, relative error of the ordinary rows, per tensor / per "
                           "channel: no outlier -> one row x 20 (INT8; INT4)",
                 "value": "; ".join(f"{err['no outlier', b][0]:.2%} / {err['no outlier', b][1]:.2%}"
                                    f" -> {err['row 7 x 20', b][0]:.2%} / "
                                    f"{err['row 7 x 20', b][1]:.2%}" for b in (8, 4)),
                 "lecture": "outlier features (LLM.int8, SmoothQuant)",
                 "claim": _claim("per_channel_outlier", "An outlier row multiplies the per-tensor "
                                 "error of the other rows several times (> 3x) and leaves their "
                                 "per-channel error unchanged", "-",
                                 all(err["row 7 x 20", b][0] > 3 * err["no outlier", b][0] and
                                     abs(err["row 7 x 20", b][1] - err["no outlier", b][1]) < 1e-6
                                     for b in (8, 4)))})
    (s_sym, e_sym), (s_asym, e_asym) = ns["onesided"].values()
    rows.append({"figure": "GELU output, int8: step and mean error, absmax / zero-point",
                 "value": f"{s_sym:.4f} / {s_asym:.4f}; {e_sym:.5f} / {e_asym:.5f}",
                 "lecture": "-",
                 "claim": _claim("zeropoint_onesided", "On a one-sided tensor the zero-point "
                                 "step is close to half the absmax step (0.4-0.6x) and its mean "
                                 "error smaller", "-",
                                 0.4 < s_asym / s_sym < 0.6 and e_asym < e_sym)})
    found, planted = ns["found"], ns["OUTLIER_DIMS"]
    e = list(ns["int8_errors"].values())                   # per-tensor, vector-wise, decomposed
    rows.append({"figure": "layer 0 FFN input with 2 synthetic outlier dimensions x 20: relative "
                           "error of X W^T, per-tensor int8 / vector-wise int8 / + outlier dims "
                           "in float (LLM.int8())",
                 "value": f"{e[0]:.3%} / {e[1]:.3%} / {e[2]:.3%}; dims found {found}",
                 "lecture": "LLM.int8(): mixed-precision decomposition",
                 "claim": _claim("int8_decomposition", "With outlier feature dimensions in the "
                                 "activations, setting them aside in float cuts the error of the "
                                 "int8 product at least fivefold against vector-wise int8 alone",
                                 "-", sorted(found) == sorted(planted) and e[2] * 5 <= e[1])})
    sweep, bits = ns["sweep"], ns["BITS"]
    per_bit = [(sweep[b2, pc][0] / sweep[b1, pc][0]) ** (1 / (b2 - b1))
               for pc in (False, True) for b1, b2 in zip(bits, bits[1:])]
    rows.append({"figure": f"reconstruction error ratio per extra bit, bits {bits}, per tensor and "
                           f"per channel", "value": ", ".join(f"{r:.2f}" for r in per_bit),
                 "lecture": "-",
                 "claim": _claim("error_halves_per_bit", "Each extra bit roughly halves the "
                                 "reconstruction error (a ratio between 0.35 and 0.65 per bit)",
                                 "-", all(0.35 < r < 0.65 for r in per_bit))})
    rows.append({"figure": f"reconstruction error per tensor / per channel at bits {bits}",
                 "value": ", ".join(f"{sweep[b, False][0]:.2%} / {sweep[b, True][0]:.2%}"
                                    for b in bits), "lecture": "-",
                 "claim": _claim("per_channel_lower_error", "At every bit width the per-channel "
                                 "reconstruction error is below the per-tensor one", "-",
                                 all(sweep[b, True][0] < sweep[b, False][0] for b in bits))})
    qlora = ns["qlora"]
    if qlora:
        (fp_acc, fp_frozen, _), (q_acc, q_frozen, _) = qlora.values()
        rows.append({"figure": "LoRA (r = 8, 1 epoch) on the fp32 base / on a 4-bit per-channel "
                               "base (QLoRA): test accuracy",
                     "value": f"{fp_acc:.1%} / {q_acc:.1%}",
                     "lecture": "QLoRA (Dettmers et al. 2023): 4-bit base + LoRA",
                     "claim": _claim("qlora_close", "LoRA on the 4-bit base lands within 2 points "
                                     "of LoRA on the fp32 base", "-", abs(fp_acc - q_acc) <= 0.02)})
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['figure']}: {r['value']}   [{r['lecture']}]")
