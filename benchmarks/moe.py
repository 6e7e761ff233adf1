"""Mixture of experts: the notebook's own figures (solutions/moe/moe.ipynb, run here) and its claims.

The notebook's code cells run in this process (benchmarks/_notebook.py), so every row is the number
the notebook prints: the toy router with and without the balance loss (repeated here on three more
seeds), the upcycled encoder's routing without and with the loss (N = 4, k = 1, one epoch on the
topic task), active parameters, and one MoE layer's throughput against dense FFNs with the same
active and the same total parameters (timed interleaved, in this one run).
"""

from __future__ import annotations

from benchmarks._notebook import namespace

SEEDS = (0, 1, 2, 3)
IDLE = 0.01                  # an expert with less than 1% of the tokens gets (almost) none


def _claim(cid, text, slide, holds):
    return {"id": f"moe.{cid}", "notebook": "moe", "text": text, "slide": slide,
            "holds": bool(holds)}


def _pct(shares):
    return " / ".join(f"{float(v):.0%}" for v in shares)


def run() -> list[dict]:
    ns = namespace("moe")
    rows = []

    total, active = ns["moe_total"], ns["moe_active"]
    rows.append({"figure": "MoE encoder (N=4, k=1): active parameters per token / total",
                 "value": f"{active / total:.0%} ({active:,} of {total:,})",
                 "lecture": "only a subset of experts is activated per token (Mixtral: 13B of "
                            "47B)"})
    dense = ns["dense_total"]
    rows.append({"figure": "MoE encoder (N=4, k=1): parameters held in memory / the dense "
                           "encoder's; share used per token",
                 "value": f"{total / dense:.2f}x; {active / total:.0%}",
                 "lecture": "Mixtral 8x7B holds 47B, uses 13B per token",
                 "claim": _claim("memory_all_experts", "The MoE encoder must hold more than twice "
                                 "the dense encoder's parameters, although a token computes with "
                                 "fewer than half of them", "Mixtral: 47B held, 13B active",
                                 total / dense > 2 and active / total < 0.5)})

    ratios = {}                           # the notebook's layers, re-timed over more rounds
    for cfg in ns["throughput"]:
        _, t = ns["throughput_table"](*cfg, n_tokens=1024, rounds=9)
        ratios[cfg] = (t["dense, same active"] / t["MoE"], t["dense, same total"] / t["MoE"])
    (small, large) = sorted(ratios)
    for cfg, (vs_active, vs_total) in ratios.items():
        d, d_ff, n, k = cfg
        row = {"figure": f"MoE layer d={d}, d_ff={d_ff}, N={n}, k={k}: throughput vs dense same "
                         f"active / same total (9 interleaved rounds)", "value": f"{vs_active:.2f}x / {vs_total:.2f}x",
               "lecture": "compute grows with k, parameters with N"}
        if cfg == large:
            row["claim"] = [
                _claim("sparse_speedup", "An MoE layer is faster than the dense layer with the "
                       "same total parameters, the more so the larger the layer",
                       "MoE: only a subset of experts is activated per token",
                       all(r[1] > 1 for r in ratios.values())
                       and ratios[large][1] > ratios[small][1]),
                _claim("routing_overhead", "An MoE layer is slower than the dense layer with the "
                       "same active parameters (routing, gathering, small matmuls)", "-",
                       all(r[0] < 1 for r in ratios.values()))]
        rows.append(row)

    # the toy router: the notebook's seed, then more seeds with the notebook's own train_toy
    coef = ns["BALANCE_TOY"]
    runs = {seed: (ns["train_toy"](0.0, seed), ns["train_toy"](coef, seed)) for seed in SEEDS}
    collapsed = all(bool((alone["shares"] < IDLE).any()) for alone, _ in runs.values())
    balanced = all(bool(((with_["shares"] - 0.25).abs() < 0.1).all())
                   and with_["error"] < alone["error"] for alone, with_ in runs.values())
    for seed, (alone, with_) in runs.items():
        row = {"figure": f"toy router (4 kinds of token), seed {seed}: shares / MSE, task loss "
                         f"only -> + {coef} x balance loss",
               "value": f"{_pct(alone['shares'])} / {alone['error']:.3f} -> "
                        f"{_pct(with_['shares'])} / {with_['error']:.3f}",
               "lecture": "Switch: N sum_i f_i P_i keeps the experts busy"}
        rows.append(row)
    idle = lambda r: int((r["shares"] < IDLE).sum())
    rows.append({"figure": f"toy router, seeds {SEEDS[0]}-{SEEDS[-1]}: idle experts (< {IDLE:.0%} "
                           f"of the tokens) without -> with the balance loss; MSE ratio",
                 "value": ", ".join(f"{idle(a)} -> {idle(w)} ({a['error'] / w['error']:.1f}x)"
                                    for a, w in runs.values()),
                 "lecture": "Switch: N sum_i f_i P_i keeps the experts busy",
                 "claim": [
                     _claim("toy_collapse", f"Without the balance loss the toy router leaves some "
                            f"experts (almost) without tokens (< {IDLE:.0%}), on every seed",
                            "-", collapsed),
                     _claim("toy_balance", "With the balance loss every expert of the toy MoE "
                            "serves about a quarter of the tokens and the error is lower, on "
                            "every seed", "-", balanced)]})

    usage, acc = ns["usage"], ns["moe_acc"]
    alone, with_ = usage["MoE"], usage["MoE + balance loss"]
    rows.append({"figure": "test accuracy, 1 epoch: dense / MoE / MoE + balance",
                 "value": f"{ns['dense_acc']:.1%} / {acc['MoE']:.1%} / "
                          f"{acc['MoE + balance loss']:.1%}",
                 "lecture": "(no figure on the slides)"})
    for name, u in usage.items():
        rows.append({"figure": f"{name}: balance loss per layer (1 = balanced)",
                     "value": ", ".join(f"{v:.3f}" for v in u["loss"]),
                     "lecture": "Switch: N sum_i f_i P_i = 1 when balanced"})
    rows.append({"figure": "upcycled encoder: busiest / idlest expert's share per layer, MoE -> "
                           "MoE + balance loss",
                 "value": f"{_pct(alone['busiest'])} | {_pct(alone['idlest'])} -> "
                          f"{_pct(with_['busiest'])} | {_pct(with_['idlest'])}",
                 "lecture": "the router collapses without a balance loss",
                 "claim": [
                     _claim("encoder_collapse", "Without the balance loss, the upcycled encoder's "
                            "router sends more than half of a layer's tokens to one expert, in "
                            "some layer", "the router collapses without a balance loss",
                            bool((alone["busiest"] > 0.5).any())),
                     _claim("encoder_flatter", "With the balance loss the busiest expert's share "
                            "is lower in every layer", "-",
                            bool((with_["busiest"] < alone["busiest"]).all()))]})
    loss = alone["loss"]
    worst = int(alone["busiest"].argmax())
    rows.append({"figure": "upcycled encoder without the balance loss: L_balance of the layer with "
                           "the busiest expert / of the other layers",
                 "value": f"{loss[worst]:.3f} / " + ", ".join(
                     f"{v:.3f}" for i, v in enumerate(loss) if i != worst), "lecture": "-",
                 "claim": _claim("loss_value", "Without the balance loss, L_balance is above 1.2 "
                                 "in the layer with the busiest expert and below 1.1 in the "
                                 "others", "Switch: N sum_i f_i P_i",
                                 loss[worst] > 1.2 and all(v < 1.1 for i, v in enumerate(loss)
                                                           if i != worst))})
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['figure']}: {r['value']}   [{r['lecture']}]")
