"""The typed result (autograde/result.py) and the work folder (autograde/work.py): a result file
round-trips to the same JSON, an older or newer file still loads, and writes are atomic."""

from __future__ import annotations

import json

import pytest

from autograde.result import SubmissionResult, TestResult
from autograde.work import REFERENCE, WorkFolder, write_atomic

FILE = {"student": "alice", "assignment": "toy", "submission_sha256": "a" * 64, "score": 3.5,
        "max_score": 6.0, "seconds": 1.25, "sandbox": "bwrap", "sandboxed": True,
        "isolation": {"mode": "bwrap", "warm": True},
        "tampering": [], "problems": ["cell 'softmax' ran past its time limit"],
        "needs_look": ["cell 'softmax' ran past its time limit"], "restarts": 1,
        "timing": {"start_s": 0.1}, "cells": [{"key": "softmax", "status": "timeout"}],
        "tests": [{"id": "test_softmax", "points": 2.0, "score": 1.5, "passed": 3, "total": 4,
                   "lines": ["hidden test toy.softmax: 3/4 checks passed"],
                   "mistakes": ["no max-subtraction"]},
                  {"id": "explain", "points": 1.0, "score": None, "manual": True, "passed": 0,
                   "total": 0, "lines": [], "mistakes": []}]}


def test_a_result_file_round_trips_to_the_same_json():
    result = SubmissionResult.from_json(FILE)
    assert result.tests[0] == TestResult("test_softmax", 2.0, 1.5, 3, 4,
                                         ["hidden test toy.softmax: 3/4 checks passed"],
                                         ["no max-subtraction"])
    assert result.tests[1].manual and not result.tests[0].manual
    assert result.to_json() == FILE
    assert "manual" not in result.tests[0].to_json()              # as the files always had it
    assert result.autograded_max == 2.0 and result.test("explain").score is None


def test_optional_fields_are_left_out_and_unknown_keys_kept():
    older = {k: v for k, v in FILE.items() if k not in ("timing", "restarts", "cells", "seconds")}
    result = SubmissionResult.from_json({**older, "reviewed_by": "ta1"})
    out = result.to_json()
    assert "timing" not in out and "cells" not in out and out["seconds"] == 0.0
    assert out["reviewed_by"] == "ta1" and result["reviewed_by"] == "ta1"
    with pytest.raises(ValueError, match="student"):
        SubmissionResult.from_json({k: v for k, v in FILE.items() if k != "student"})


def test_a_result_reads_like_its_json():
    result = SubmissionResult.from_json(FILE)
    assert result["score"] == 3.5 and result.get("tampering") == [] and "timing" in result
    assert result["tests"][1].get("manual") is True and result["tests"][0].get("manual") is None
    assert set(dict(result)) == set(FILE)
    changed = SubmissionResult.from_json(dict(result, submission_sha256="0" * 64))
    assert changed.submission_sha256 == "0" * 64 and changed.tests == result.tests
    with pytest.raises(KeyError):
        result["nothing"]


def test_the_work_folder_saves_loads_and_merges(tmp_path):
    here, shard = WorkFolder(tmp_path / "here"), WorkFolder(tmp_path / "shard")
    result = SubmissionResult.from_json(FILE)
    path = shard.save(result)
    assert path == tmp_path / "shard" / "results" / "toy" / "alice.json"
    assert json.loads(path.read_text()) == FILE
    shard.write_graded("toy", "alice", "{}")
    assert shard.graded_notebook("toy", "alice") == shard.run_folder("toy", "alice") / "graded.ipynb"
    assert here.merge([shard.root]) == [result]
    assert here.load("toy") == [result] and here.load_one("toy", "alice") == result
    assert here.graded_notebook("toy", "alice").read_text() == "{}"
    assert here.load_one("toy", REFERENCE) is None
    assert not list((tmp_path / "here").rglob("*.tmp"))           # nothing half-written left


def test_an_atomic_write_leaves_the_old_file_when_it_fails(tmp_path):
    target = write_atomic(tmp_path / "a" / "file.txt", "old")

    def broken(tmp):
        tmp.write_text("half")
        raise OSError("disk full")
    with pytest.raises(OSError):
        write_atomic(target, broken)
    assert target.read_text() == "old"
