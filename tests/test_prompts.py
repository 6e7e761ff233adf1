"""course_lib.prompts: the pattern helpers every prompt notebook shares."""

import pytest
import torch

from course_lib.prompts import fill, mask_position, template


def test_fill_puts_the_input_at_x_and_drops_its_full_stop():
    assert fill("[X] What is the topic? [MASK]", "Rockets won.") == "Rockets won What is the topic? [MASK]"
    assert template("[MASK]: [X]")("a b") == "[MASK]: a b"
    for bad in ("no input [MASK]", "[X] and [X] [MASK]"):
        with pytest.raises(ValueError):
            template(bad)


def test_mask_position_finds_one_mask_per_row():
    ids = torch.tensor([[2, 10, 4, 11, 0], [2, 4, 12, 13, 14], [2, 9, 8, 7, 4]])
    t = mask_position(ids, 4)
    assert t.dtype == torch.long and t.tolist() == [2, 1, 4]
    assert mask_position(torch.where(ids == 4, 20, ids), 20).tolist() == [2, 1, 4]


@pytest.mark.parametrize("ids", [[[2, 4, 5], [2, 5, 6]], [[2, 4, 4], [2, 5, 4]]])
def test_mask_position_rejects_rows_without_exactly_one_mask(ids):
    with pytest.raises(ValueError):
        mask_position(torch.tensor(ids), 4)
