"""Plots and tables the notebooks share: small functions, one figure each, readable defaults."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt


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
    ax1.plot(ranks, [100 * a for a in accuracies], "o-", label="LoRA")
    if full_acc is not None:
        ax1.axhline(100 * full_acc, color="gray", ls="--", label="full fine-tuning")
    ax1.set(xscale="log", xlabel="rank r", ylabel="test accuracy (%)", title="Accuracy")
    ax1.set_xticks(ranks, [str(r) for r in ranks])
    ax1.legend()
    ax2.plot(ranks, params, "o-", label="LoRA")
    if full_params is not None:
        ax2.axhline(full_params, color="gray", ls="--", label="full fine-tuning")
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
                yerr=None if errors is None else [100 * e for e in errors], fmt="o", capsize=3)
    for n, p, a in zip(names, params, accuracies):
        ax.annotate(n, (p, 100 * a), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set(xscale="log", xlabel="trainable parameters (log scale)", ylabel="test accuracy (%)",
           title=title)
    fig.tight_layout()
    return fig


def line_plot(xs, series: dict, xlabel: str, ylabel: str, title: str = "", logx=False, logy=False):
    """Several named lines over the same x values."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, ys in series.items():
        ax.plot(xs, ys, "o-", label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
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
