"""ipywidgets helpers: a slider over precomputed results, so moving it never retrains anything.

Outside Jupyter (or without ipywidgets) each helper prints the table it would show instead.
"""

from __future__ import annotations


def _display_slider(values, describe, description="value") -> None:
    """A SelectionSlider over `values`; `describe(value) -> str` renders the chosen row."""
    try:
        import ipywidgets as w
        from IPython import get_ipython
        from IPython.display import display
        if get_ipython() is None:
            raise ImportError
    except ImportError:
        for v in values:
            print(describe(v))
        return
    slider = w.SelectionSlider(options=list(values), value=list(values)[len(values) // 2],
                               description=description, continuous_update=True)
    out = w.HTML(describe(slider.value))
    slider.observe(lambda change: setattr(out, "value", describe(change["new"])), names="value")
    display(w.VBox([slider, out]))


def rank_slider(ranks, results: dict, full_acc: float, full_params: int):
    """Pick a LoRA rank; see its accuracy and trainable parameters next to full fine-tuning."""
    def describe(r):
        acc, n = results[r]
        return (f"<b>r = {r}</b>: accuracy {acc:.1%} (full fine-tuning {full_acc:.1%}); "
                f"{n:,} trainable parameters = {n / full_params:.2%} of full fine-tuning")
    return _display_slider(ranks, describe, "rank r")


def table_slider(values, rows: dict, description: str, fmt):
    """Generic: rows[value] is any object; fmt(value, row) -> HTML string."""
    return _display_slider(values, lambda v: fmt(v, rows[v]), description)


def kept_tokens_viewer(words, kept: dict, steps):
    """Which tokens a selective KV cache keeps: a dropdown over `kept` and a slider over `steps`.

    words: the decoded tokens; kept[name][t]: the positions cached after step t. Kept tokens are
    bold on a pale background, evicted ones struck through (not told apart by colour alone, and
    both at a contrast of at least 4.5:1), tokens not yet read are not shown.
    """
    import html as _html

    def describe(name, t):
        keep = set(kept[name][t])
        cells = [f"<b style='background:#dbeeff;color:#000'>{_html.escape(w)}</b>" if i in keep
                 else f"<s style='color:#595959' title='evicted'>{_html.escape(w)}</s>"
                 for i, w in enumerate(words[:t + 1])]
        return (f"<b>{_html.escape(name)}</b>, after step {t}: {len(keep)} of {t + 1} tokens "
                f"kept<br><div style='line-height:1.6'>{' '.join(cells)}</div>")

    try:
        import ipywidgets as w
        from IPython import get_ipython
        from IPython.display import display
        if get_ipython() is None:
            raise ImportError
    except ImportError:
        for name in kept:
            t = steps[len(steps) // 2]
            keep = set(kept[name][t])
            print(f"{name}, after step {t}: " + " ".join(
                wd if i in keep else "_" for i, wd in enumerate(words[:t + 1])))
        return
    choice = w.Dropdown(options=list(kept), description="cache")
    step = w.SelectionSlider(options=list(steps), value=steps[len(steps) // 2], description="step")
    out = w.HTML(describe(choice.value, step.value))
    update = lambda _: setattr(out, "value", describe(choice.value, step.value))
    choice.observe(update, names="value")
    step.observe(update, names="value")
    display(w.VBox([w.HBox([choice, step]), out]))
