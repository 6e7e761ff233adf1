"""The lecture's pictures (course_lib.plotting): each returns its figure, draws what its
docstring says, and renders to PNG. Called as the notebooks call them."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_lib import plotting  # noqa: E402


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


PICTURES = {
    "lora_vs_full": lambda: plotting.lora_vs_full(d=6, k=6, r=2),
    "adapter_in_block": plotting.adapter_in_block,
    "prompt_vs_prefix": lambda: plotting.prompt_vs_prefix(
        n=3, tokens=["[CLS]", "x1", "x2", "[MASK]"], n_layers=3),
    "expert_load_bars": lambda: plotting.expert_load_bars(
        {"task loss only": [0.0, 0.0, 0.5, 0.5], "+ balance loss": [0.25] * 4}),
    "moe_dispatch": lambda: plotting.moe_dispatch(
        ["the", "match", "ended"], [[0], [2], [2]], [[0.9], [0.6], [0.7]], N=4),
    "kv_cache_growth": lambda: plotting.kv_cache_growth(
        ["[BOS]", "a", "b", "c", "d"], [(3, (1, 4, 3, 16)), (1, (1, 4, 4, 16)),
                                         (1, (1, 4, 5, 16))]),
    "kept_positions": lambda: plotting.kept_positions(
        {"sliding window": [[0, 1], [1, 2], [2, 3]], "StreamingLLM": [[0, 1], [0, 2], [0, 3]]},
        n_tokens=4),
    "number_formats": lambda: plotting.number_formats(
        [("fp32", (8, 23)), ("fp16", (5, 10)), ("bf16", (8, 7)), ("fp8 e4m3", (4, 3))]),
}


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_picture_returns_a_figure_that_renders(name):
    fig = PICTURES[name]()
    try:
        assert isinstance(fig, Figure), f"{name} returned {type(fig).__name__}, not its figure"
        assert fig.axes, name
        png = io.BytesIO()
        fig.savefig(png, format="png")
        assert png.getvalue()[:4] == b"\x89PNG"
    finally:
        plt.close("all")


def test_lora_picture_counts_the_trainable_entries():
    fig = plotting.lora_vs_full(d=6, k=6, r=2)
    words = " ".join(texts(fig))
    plt.close(fig)
    assert "36 entries" in words and "24 entries" in words   # d k = 36; r (d + k) = 24


def test_dispatch_counts_tokens_per_expert():
    fig = plotting.moe_dispatch(["the", "match", "ended"], [[0], [2], [2]], [[0.9], [0.6], [0.7]],
                                N=4)
    words = texts(fig)
    plt.close(fig)
    assert ["1 token", "0 tokens", "2 tokens", "0 tokens"] == [w for w in words if "token" in w]


# --- readable in greyscale and by colour-blind readers (issue 23, item 6)

OKABE_ITO = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
             "#CC79A7"}                                   # Okabe & Ito (2008), typed here again


def _luminance(color) -> float:
    r, g, b = matplotlib.colors.to_rgb(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_the_palette_is_okabe_ito_and_the_default_cycle_follows_it():
    assert set(plotting.PALETTE) <= OKABE_ITO
    cycle = plt.rcParams["axes.prop_cycle"].by_key()
    assert cycle["color"] == plotting.PALETTE and len(set(map(str, cycle["linestyle"]))) > 1


def test_lines_differ_in_marker_and_line_style_not_only_colour():
    fig = plotting.line_plot([1, 2, 3], {f"s{i}": [i, i + 1, i + 2] for i in range(7)}, "x", "y")
    lines = fig.axes[0].lines
    plt.close(fig)
    assert len({line.get_marker() for line in lines}) == 7            # every marker its own
    dashes = [str(line._unscaled_dash_pattern) for line in lines]      # the drawn dash pattern
    assert len(set(dashes)) == 7                                       # and every line style
    fig = plotting.line_plot([1, 2, 3], {"a": [1, 2, 3], "b": [2, 3, 4]}, "x", "y", markers=False)
    a, b = fig.axes[0].lines
    plt.close(fig)
    assert a.get_linestyle() != b.get_linestyle()


def test_neighbouring_series_differ_in_lightness():
    lum = [_luminance(c) for c in plotting.PALETTE]
    assert all(abs(a - b) > 0.1 for a, b in zip(lum, lum[1:]))


@pytest.mark.parametrize("name", ["lora_vs_full", "adapter_in_block", "prompt_vs_prefix",
                                  "kv_cache_growth"])
def test_trainable_and_new_parts_are_hatched_not_only_coloured(name):
    fig = PICTURES[name]()
    patches = [p for ax in fig.axes for p in ax.patches]
    plt.close("all")
    trainable = [p for p in patches if matplotlib.colors.to_hex(p.get_facecolor())
                 == plotting.TRAINABLE.lower()]
    frozen = [p for p in patches if matplotlib.colors.to_hex(p.get_facecolor())
              == plotting.FROZEN.lower()]
    assert trainable and all(p.get_hatch() for p in trainable)
    assert all(not p.get_hatch() for p in frozen)


def test_number_formats_label_every_part():
    fig = PICTURES["number_formats"]()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    words = texts(fig)
    plt.close(fig)
    assert legend == ["sign", "exponent: range", "mantissa: precision"]
    assert "1 + 8 + 7" in words and "fp8 e4m3 (8 bits)" in words
