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
