"""`make summary`: one printable HTML page per part of the review notebook, formulas and tables,
no code and no interactive questions."""

import pytest

from autograde.build import summary


@pytest.mark.slow
def test_one_page_per_part_without_code_or_questions(tmp_path):
    pages = summary.build(tmp_path)
    assert [p.name.split("_")[1] for p in pages] == ["1", "2", "3", "4"]
    for page in pages:
        html = page.read_text()
        assert "<table" in html and "Intuition" in html
        assert "self_check.ask" not in html and "import torch" not in html
    assert "codes [127, 11, -51]" in pages[2].read_text()       # the worked int8 example ran
