"""Plots and tables the notebooks share: small functions, one figure each, readable defaults.

Every picture reads in greyscale and for colour-blind readers: colours come from the Okabe-Ito
palette (Okabe & Ito 2008, made to stay distinct under the common colour-vision deficiencies),
and nothing is told apart by colour alone. Lines differ in marker and line style as well
(`style(i)`), boxes in hatching (`TRAINABLE` boxes are hatched, `FROZEN` ones plain), heat maps
use one-hue sequential maps whose lightness orders the values, and every value that matters is
also written on the figure. Importing this module sets matplotlib's default colour and line
style cycle to the same, so a notebook's own `plt.plot` follows it.
"""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
from cycler import cycler

# Okabe-Ito, ordered so that neighbours also differ in lightness (greyscale)
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#56B4E9", "#D55E00", "#CC79A7", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1))]
REFERENCE = {"color": "#595959", "linewidth": 1}      # reference lines (chance, full fine-tuning)

plt.rcParams["axes.prop_cycle"] = cycler(color=PALETTE) + cycler(linestyle=LINESTYLES)
plt.rcParams["hatch.linewidth"] = 0.6


def style(i: int) -> dict:
    """Colour, marker and line style of the i-th series: distinct in all three."""
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def format_table(header, rows, title: str | None = None) -> str:
    """The table as aligned plain text."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths))
    text = "\n".join([line(header), "-+-".join("-" * w for w in widths)] + [line(r) for r in rows])
    return f"{title}\n{text}" if title else text


def show_table(header, rows, title: str | None = None) -> None:
    """Show a table: HTML in a notebook, aligned text elsewhere (see format_table)."""
    rows = [[str(c) for c in row] for row in rows]
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
        if get_ipython() is not None:
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                           for r in rows)
            cap = f"<caption>{html.escape(title)}</caption>" if title else ""
            display(HTML(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"))
            return
    except ImportError:
        pass
    print(format_table(header, rows, title))


def rank_sweep(ranks, accuracies, params, full_acc=None, full_params=None):
    """Accuracy and trainable parameters against the LoRA rank r (two panels)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax1.plot(ranks, [100 * a for a in accuracies], label="LoRA", **style(0))
    if full_acc is not None:
        ax1.axhline(100 * full_acc, ls="--", label="full fine-tuning", **REFERENCE)
    ax1.set(xscale="log", xlabel="rank r", ylabel="test accuracy (%)", title="Accuracy")
    ax1.set_xticks(ranks, [str(r) for r in ranks])
    ax1.legend()
    ax2.plot(ranks, params, label="LoRA", **style(0))
    if full_params is not None:
        ax2.axhline(full_params, ls="--", label="full fine-tuning", **REFERENCE)
    ax2.set(xscale="log", yscale="log", xlabel="rank r", ylabel="trainable parameters",
            title="Trainable parameters")
    ax2.set_xticks(ranks, [str(r) for r in ranks])
    ax2.legend()
    fig.tight_layout()
    return fig


def accuracy_vs_params(names, params, accuracies, errors=None, title="Accuracy vs. trainable parameters"):
    """Scatter of accuracy against trainable parameters (log x), one labelled point per method."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(params, [100 * a for a in accuracies],
                yerr=None if errors is None else [100 * e for e in errors], fmt="o", capsize=3,
                color=PALETTE[0])
    for n, p, a in zip(names, params, accuracies):
        ax.annotate(n, (p, 100 * a), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set(xscale="log", xlabel="trainable parameters (log scale)", ylabel="test accuracy (%)",
           title=title)
    fig.tight_layout()
    return fig


def line_plot(xs, series: dict, xlabel: str, ylabel: str, title: str = "", logx=False, logy=False,
              markers: bool = True):
    """Several named lines over the same x values, each with its own colour, marker and line
    style (`markers=False` for long curves such as losses: colour and line style then)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, (name, ys) in enumerate(series.items()):
        kw = style(i) if markers else {k: v for k, v in style(i).items() if k != "marker"}
        ax.plot(xs, ys, label=name, markevery=max(1, len(xs) // 12), **kw)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
        if len(xs) <= 12:                              # the x values themselves, no 3 x 10^2
            from matplotlib.ticker import NullLocator
            ax.set_xticks(list(xs), [f"{x:g}" for x in xs])
            ax.xaxis.set_minor_locator(NullLocator())
    if logy:
        ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    return fig


def heatmap_grid(matrices, titles, xlabel: str = "", row_labels=None, ncols: int = 4,
                 fmt: str = "{:.0f}", vmin=0, vmax=100, cmap="Blues"):
    """Annotated heatmaps side by side (ncols per row of panels), one per matrix (rows x columns)."""
    import math as _math
    n = len(matrices)
    nrows = _math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols + 0.6, 2.3 * nrows),
                             squeeze=False, sharey=True)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, m, title in zip(axes.flat, matrices, titles):
        m = [[float(v) for v in row] for row in m]
        ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        for r, row in enumerate(m):
            for c, v in enumerate(row):
                ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8,
                        color="white" if v > vmin + 0.6 * (vmax - vmin) else "black")
        ax.set_xticks(range(len(m[0])))
        ax.set_yticks(range(len(m)), row_labels if row_labels is not None else range(len(m)))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig


# PEFT pictures ---------------------------------------------------------------------------------
# Diagrams drawn from code (no image files): what trains (orange, hatched) and what stays frozen
# (light grey, plain); the input tokens are sky blue and dotted.
TRAINABLE, FROZEN, DATA = "#E69F00", "#E4E4E4", "#9CD3F0"
HATCH = {TRAINABLE: "///", DATA: "..", FROZEN: None}


def _box(ax, x, y, w, h, text="", color=FROZEN, fontsize=8, **kw):
    """A labelled rectangle with its lower left corner at (x, y), hatched by its kind."""
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.05",
                                facecolor=color, edgecolor="black", linewidth=0.8,
                                hatch=HATCH.get(color), **kw))
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none",
                          alpha=0.85) if HATCH.get(color) else None)


def _arrow(ax, start, end, text="", **kw):
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="->", lw=0.9, color="black", **kw))
    if text:
        ax.text((start[0] + end[0]) / 2 + 0.08, (start[1] + end[1]) / 2, text, fontsize=7,
                va="center")


def _legend(ax, items, loc="lower center"):
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(facecolor=c, edgecolor="black", hatch=HATCH.get(c), label=t)
                       for t, c in items],
              loc=loc, fontsize=7, ncol=len(items), frameon=False, bbox_to_anchor=(0.5, -0.12))


def lora_vs_full(d: int = 6, k: int = 6, r: int = 2):
    """Full fine-tuning updates every entry of W; LoRA keeps W_0 frozen and learns B A."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.3))
    u = 0.28                                             # side of one matrix entry
    _box(ax1, 0, 0, k * u, d * u, f"W\n{d} x {k}", TRAINABLE, fontsize=9)
    ax1.text(k * u / 2, d * u + 0.25, f"all d k = {d * k} entries train", ha="center", fontsize=8)
    _arrow(ax1, (-0.9, d * u / 2), (-0.05, d * u / 2))
    ax1.text(-0.5, d * u / 2 + 0.12, "x", fontsize=8, ha="center")
    _arrow(ax1, (k * u + 0.05, d * u / 2), (k * u + 0.9, d * u / 2))
    ax1.text(k * u + 0.5, d * u / 2 + 0.12, "h = W x", fontsize=8, ha="center")
    ax1.set_title("Full fine-tuning: W_new = W_old + W_delta, W_delta dense", fontsize=9)
    _box(ax2, 0, 0, k * u, d * u, f"W_0\n{d} x {k}\nfrozen", FROZEN, fontsize=9)
    ax2.text(k * u + 0.35, d * u / 2, "+", fontsize=16, va="center")
    bx = k * u + 0.8
    _box(ax2, bx, 0, r * u, d * u, f"B\n{d}x{r}", TRAINABLE, fontsize=8)
    _box(ax2, bx + r * u + 0.15, d * u - r * u, k * u, r * u, f"A  {r} x {k}", TRAINABLE, fontsize=8)
    ax2.text(bx + r * u / 2, -0.3, "B = 0 at the start", ha="center", fontsize=7)
    ax2.text(bx + r * u + 0.15 + k * u / 2, d * u - r * u - 0.3, "A random", ha="center",
             fontsize=7)
    ax2.text(bx + 0.2, d * u + 0.25, f"(alpha / r) B A: r (d + k) = {r * (d + k)} entries train",
             ha="center", fontsize=8)
    ax2.set_title("LoRA: h = W_0 x + (alpha / r) B A x, rank r", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_xlim(-1.0, 5.2)
        ax.set_ylim(-0.6, d * u + 0.6)
        ax.set_aspect("equal")
        ax.axis("off")
    _legend(ax2, [("trainable", TRAINABLE), ("frozen", FROZEN)])
    fig.tight_layout()
    return fig


def adapter_in_block():
    """Where Houlsby adapters sit in a pre-LN block: on each sub-layer's output, before the
    residual add; and what one adapter computes."""
    fig, (ax, inset) = plt.subplots(1, 2, figsize=(9, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
    w, h, x0 = 1.6, 0.42, 0.6
    rows = [("LN", FROZEN), ("Attention", FROZEN), ("Adapter", TRAINABLE), ("+", None),
            ("LN", FROZEN), ("FFN", FROZEN), ("Adapter", TRAINABLE), ("+", None)]
    ys = [0.4 + 0.62 * i for i in range(len(rows))]
    for (text, color), y in zip(rows, ys):
        if color is None:                                  # the residual add
            _box(ax, x0 + w / 2 - 0.17, y + 0.04, 0.34, h - 0.08, "+", "white", fontsize=11)
        else:
            _box(ax, x0, y, w, h, text, color, fontsize=9)
    for a, b in zip(ys, ys[1:]):
        _arrow(ax, (x0 + w / 2, a + h), (x0 + w / 2, b))
    _arrow(ax, (x0 + w / 2, 0.0), (x0 + w / 2, ys[0]), "x")
    _arrow(ax, (x0 + w / 2, ys[-1] + h), (x0 + w / 2, ys[-1] + h + 0.35))
    for start, plus in ((-0.2, ys[3]), ((ys[3] + h + ys[4]) / 2, ys[7])):   # residual paths
        ax.plot([x0 + w / 2, x0 - 0.35, x0 - 0.35], [max(start, 0.15), max(start, 0.15),
                                                   plus + h / 2], color="black", lw=0.9, ls="-")
        _arrow(ax, (x0 - 0.35, plus + h / 2), (x0 + w / 2 - 0.2, plus + h / 2))
    ax.text(x0 - 0.45, ys[1], "residual", rotation=90, fontsize=7, va="center", ha="right")
    ax.set_title("A pre-LN block with two adapters (Houlsby)", fontsize=9)
    ax.set_xlim(-0.6, 3.0)
    ax.set_ylim(-0.2, ys[-1] + 0.9)
    ax.axis("off")

    parts = [("h (d)", DATA), ("W_down: d -> m", TRAINABLE), ("f = ReLU", "white"),
             ("W_up: m -> d", TRAINABLE), ("+", None)]
    ys2 = [0.3 + 0.75 * i for i in range(len(parts))]
    for (text, color), y in zip(parts, ys2):
        if color is None:
            _box(inset, 0.83, y + 0.02, 0.34, 0.36, "+", "white", fontsize=11)
        else:
            _box(inset, 0.3, y, 1.4, 0.4, text, color, fontsize=8)
    for a, b in zip(ys2, ys2[1:]):
        _arrow(inset, (1.0, a + 0.4), (1.0, b))
    inset.plot([1.7, 2.1, 2.1], [ys2[0] + 0.2, ys2[0] + 0.2, ys2[-1] + 0.2], color="black", lw=0.9,
               ls="-")
    _arrow(inset, (2.1, ys2[-1] + 0.2), (1.2, ys2[-1] + 0.2))
    inset.text(2.15, (ys2[0] + ys2[-1]) / 2, "internal skip:\nnear-zero weights\n= identity",
               fontsize=7, va="center")
    inset.set_title("One adapter: h + W_up f(W_down h)", fontsize=9)
    inset.set_xlim(0, 3.2)
    inset.set_ylim(0, ys2[-1] + 0.8)
    inset.axis("off")
    _legend(ax, [("trainable", TRAINABLE), ("frozen", FROZEN)])
    fig.tight_layout()
    return fig


def prompt_vs_prefix(n: int = 3, tokens=("[CLS]", "x1", "x2", "[MASK]"), n_layers: int = 3):
    """Soft prompt tuning (n trainable vectors at the input only) beside prefix tuning (n
    trainable keys and values in every layer; queries only from the real tokens)."""
    tokens = list(tokens)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    cw, rh = 0.9, 0.7
    for ax, prefix in ((ax1, False), (ax2, True)):
        for j in range(n_layers + 1):                      # row 0: the input embeddings
            y = j * rh
            for i in range(n):
                if prefix:
                    label, color = (("", "white") if j == 0 else ("$P_k,P_v$", TRAINABLE))
                else:
                    label, color = ((f"$p_{i + 1}$", TRAINABLE) if j == 0 else ("", FROZEN))
                if color != "white":
                    _box(ax, i * cw, y, cw * 0.9, rh * 0.8, label, color, fontsize=7)
            for i, t in enumerate(tokens):
                _box(ax, (n + i) * cw, y, cw * 0.9, rh * 0.8, t if j == 0 else "",
                     DATA if j == 0 else FROZEN, fontsize=7)
            ax.text(-0.25, y + rh * 0.4, "input" if j == 0 else f"layer {j}", ha="right",
                    va="center", fontsize=7)
        ax.set_xlim(-1.2, (n + len(tokens)) * cw + 0.2)
        ax.set_ylim(-0.5, (n_layers + 1) * rh + 0.3)
        ax.axis("off")
    ax1.set_title(f"(a) Prompt tuning: [P ; E(x)], n = {n} vectors at the input only;\n"
                  "the sequence is n longer, the [MASK] moves right by n", fontsize=8)
    ax2.set_title(f"(b) Prefix tuning: n = {n} keys and values in every layer,\n"
                  "attention over [P_k ; K], [P_v ; V]; queries only from real tokens",
                  fontsize=8)
    ax2.text(n * cw / 2, -0.3, "no input token", ha="center", fontsize=7)
    _legend(ax1, [("trainable", TRAINABLE), ("frozen computation", FROZEN), ("tokens", DATA)])
    fig.tight_layout()
    return fig


# MoE, compression and KV-cache pictures ---------------------------------------------------------
def expert_load_bars(loads: dict, title: str = "", ylabel: str = "share of tokens (%)"):
    """One bar chart per entry of `loads` ({panel title: share of tokens per expert}), side by
    side with the same y axis; a dashed line marks the balanced share 1/N."""
    fig, axes = plt.subplots(1, len(loads), figsize=(3.2 * len(loads), 2.8), sharey=True,
                             squeeze=False)
    for ax, (name, shares) in zip(axes[0], loads.items()):
        shares = [100 * float(s) for s in shares]
        ax.bar(range(len(shares)), shares, color=PALETTE[0])
        ax.axhline(100 / len(shares), ls="--", label="balanced: 1/N", **REFERENCE)
        for i, s in enumerate(shares):
            ax.text(i, s + 1.5, f"{s:.0f}", ha="center", fontsize=8)
        ax.set(title=name, xlabel="expert i", xticks=range(len(shares)), ylim=(0, 105))
    axes[0][0].set_ylabel(ylabel)
    axes[0][0].legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def moe_dispatch(words, indices, weights, N: int, title: str = ""):
    """An MoE dispatch trace: one row per token, one column per expert; the experts a token is
    routed to are filled (darker = larger weight) and show the weight; the last row counts the
    tokens each expert runs on, in one batched call."""
    import numpy as np
    T, k = len(words), len(indices[0])
    grid = np.full((T, N), np.nan)
    for t in range(T):
        for s in range(k):
            grid[t, int(indices[t][s])] = float(weights[t][s])
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * N, 0.8 + 0.28 * (T + 1)))
    ax.imshow(np.ma.masked_invalid(grid), cmap="Oranges", vmin=0, vmax=1, aspect="auto")
    for t in range(T):
        for i in range(N):
            if not np.isnan(grid[t, i]):
                ax.text(i, t, f"{grid[t, i]:.2f}", ha="center", va="center", fontsize=7)
    counts = [int((~np.isnan(grid[:, i])).sum()) for i in range(N)]
    for i, n in enumerate(counts):
        ax.text(i, T + 0.1, f"{n} token{'' if n == 1 else 's'}", ha="center", va="center",
                fontsize=8, weight="bold")
    ax.set_xticks(range(N), [f"E{i}" for i in range(N)])
    ax.set_yticks(range(T), words, fontsize=7)
    ax.set_ylim(T + 0.6, -0.5)
    ax.set_xticks(np.arange(-0.5, N), minor=True)
    ax.set_yticks(np.arange(-0.5, T), minor=True)
    ax.grid(which="minor", color="lightgray", lw=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_title(title or "dispatch: token -> expert (weight)", fontsize=9)
    fig.tight_layout()
    return fig


def kv_cache_growth(words, steps):
    """The KV cache growing call by call: steps = [(new positions, K shape), ...] in order (the
    first is the prefill). One row per call; cached positions grey, the new ones orange, the
    layer's K shape on the right."""
    from matplotlib.patches import Rectangle
    total = sum(n for n, _ in steps)
    fig, ax = plt.subplots(figsize=(1.2 + 0.78 * total + 2.6, 0.55 * len(steps) + 0.7))
    cached = 0
    for r, (n_new, shape) in enumerate(steps):
        for j in range(cached + n_new):
            new = j >= cached
            ax.add_patch(Rectangle((j, -r - 0.8), 0.94, 0.7, lw=0.5, ec="black",
                                   fc=TRAINABLE if new else FROZEN, hatch="///" if new else None))
            ax.text(j + 0.47, -r - 0.45, words[j], ha="center", va="center", fontsize=6,
                    rotation=0 if len(words[j]) < 8 else 20,
                    bbox=dict(boxstyle="round,pad=0.1", facecolor="white", edgecolor="none",
                              alpha=0.85) if new else None)
        cached += n_new
        label = f"prefill: {n_new} tokens" if r == 0 else f"step {r}: 1 new token"
        ax.text(-0.3, -r - 0.45, label, ha="right", va="center", fontsize=8)
        ax.text(total + 0.3, -r - 0.45, "K: (" + ", ".join(map(str, shape)) + ")", ha="left",
                va="center", fontsize=8, family="monospace")
    ax.set_xlim(-4.2, total + 3.6)
    ax.set_ylim(-len(steps) - 0.1, 0.1)
    ax.axis("off")
    ax.set_title("KV cache of one layer after each call: (B, H, T, d_head); new positions "
                 "hatched", fontsize=9)
    fig.tight_layout()
    return fig


def kept_positions(kept: dict, n_tokens: int):
    """Which text positions a selective KV cache holds: one panel per policy, a row per decoding
    step and a column per position; kept[name][t] lists the positions cached after step t."""
    import numpy as np
    fig, axes = plt.subplots(1, len(kept), figsize=(3.1 * len(kept), 3.2), sharey=True,
                             squeeze=False)
    for ax, (name, per_step) in zip(axes[0], kept.items()):
        grid = np.full((len(per_step), n_tokens), np.nan)
        for t, positions in enumerate(per_step):
            grid[t, :t + 1] = 0.25                           # read, then evicted
            grid[t, positions] = 1.0                         # still cached
        ax.imshow(np.ma.masked_invalid(grid), cmap="Blues", vmin=0, vmax=1, aspect="auto",
                  interpolation="nearest")
        ax.set(title=name, xlabel="text position")
    axes[0][0].set_ylabel("decoding step")
    from matplotlib.patches import Patch
    blues = plt.get_cmap("Blues")
    fig.legend(handles=[Patch(facecolor=blues(1.0), edgecolor="black", label="cached (dark)"),
                        Patch(facecolor=blues(0.25), edgecolor="black", label="evicted (light)"),
                        Patch(facecolor="white", edgecolor="black", label="not read yet")],
               loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def number_formats(formats):
    """The bit layout of floating-point formats: formats = [(name, (exponent bits, mantissa
    bits)), ...]; one bar per format, a cell per bit, sign / exponent / mantissa told apart by
    hatching and label as well as colour."""
    from matplotlib.patches import Patch, Rectangle
    parts = [("sign", "#D55E00", "xx"), ("exponent: range", "#0072B2", "//"),
             ("mantissa: precision", "#56B4E9", "..")]
    width = max(1 + e + m for _, (e, m) in formats)
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(formats) + 1.1))
    for row, (name, (e, m)) in enumerate(formats):
        y = -row
        for start, n, (_, color, hatch) in ((0, 1, parts[0]), (1, e, parts[1]),
                                            (1 + e, m, parts[2])):
            for b in range(start, start + n):
                ax.add_patch(Rectangle((b, y - 0.35), 1, 0.7, facecolor=color, hatch=hatch,
                                       edgecolor="black", linewidth=0.4))
        ax.text(-0.5, y, f"{name} ({1 + e + m} bits)", ha="right", va="center", fontsize=8)
        ax.text(1 + e + m + 0.5, y, f"1 + {e} + {m}", ha="left", va="center", fontsize=8)
    ax.set_xlim(-8, width + 5)
    ax.set_ylim(-len(formats) + 0.4, 0.9)
    ax.axis("off")
    ax.legend(handles=[Patch(facecolor=c, hatch=h, edgecolor="black", label=lab)
                       for lab, c, h in parts], loc="upper center", ncol=3, fontsize=8,
              frameon=False, bbox_to_anchor=(0.5, 1.0))
    ax.set_title("Floating-point formats: sign, exponent and mantissa bits", fontsize=9, pad=18)
    fig.tight_layout()
    return fig
