"""Records: how a test cell's hidden outputs travel from the student's sandbox to the verdict.

After each test cell the grader runs a step of its own in the student's kernel (`step_code`): it
calls `autograde.sandboxed.recorder.record_step`, which runs the cell's hidden cases on the student's objects and
writes one record per case into the sandbox's record folder. Nothing the student's cells do to the
visible checks (a check that raises, is rebound or is deleted) keeps this step from running.

The grader reads what the sandbox wrote without trusting any of it (`read_records`):

- through a handle on the record folder opened with O_DIRECTORY | O_NOFOLLOW, then each record
  opened relative to that handle with O_NOFOLLOW | O_NONBLOCK: a folder or file the student replaced
  by a symbolic link, a FIFO or a device is refused, and no path inside the sandbox is ever resolved
  or copied by the grader;
- only a regular file with one link, owned by the sandbox's uid, of at most MAX_RECORD_BYTES, read
  into memory;
- a zip archive (torch.save's format) whose entries are all stored uncompressed and add up to no
  more than the file holds, so nothing inflates when loaded;
- loaded from memory with `torch.load(weights_only=True)`; all its tensors together hold at most
  MAX_ELEMENTS elements (a stride trick cannot make a small file a huge tensor), and everything in it
  is plain data (exact tensors, numbers, str, bool, None, and dicts/lists/tuples of those).

Every record refused for any of these reasons is reported (`refusals`): under "needs a look" and in
the result's "tampering" list, with what was refused and why. The record folder itself is emptied
and made again before each hidden step through the submission folder's descriptor
(autograde/grade/folders.py), never by a path.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile

import torch

MAX_RECORD_BYTES = 16 * 2**20
MAX_ELEMENTS = 2**23                    # elements of all tensors of one record together
MAX_DEPTH = 64
PLAIN = (bool, int, float, str, type(None))


def step_code(calls: list[tuple[str, dict]]) -> str:
    """The grader's hidden step for one test cell: [(case id, {keyword: expression})] -> code.

    Each case's objects are looked up lazily, so an exercise whose cell failed is reported as
    unavailable for its own cases only."""
    items = ", ".join(
        f"({case_id!r}, lambda: {{{', '.join(f'{k!r}: {v}' for k, v in kwargs.items())}}})"
        for case_id, kwargs in calls)
    return (f"__import__('autograde.sandboxed.recorder').sandboxed.recorder.record_step([{items}])\n")


def _plain(value, depth: int = 0) -> int:
    """Tensor elements in `value`, or -1 where it holds something that is not plain data."""
    if depth > MAX_DEPTH:
        return -1
    if type(value) is torch.Tensor:
        return value.numel()
    if type(value) in PLAIN:
        return 0
    if type(value) is dict:
        parts = [_plain(v, depth + 1) if type(k) in (str, int) else -1 for k, v in value.items()]
    elif type(value) in (list, tuple):
        parts = [_plain(v, depth + 1) for v in value]
    else:
        return -1
    return -1 if any(p < 0 for p in parts) else sum(parts)


def parse(data: bytes) -> dict:
    """The record's content, or {"refused": why} for anything but a well-formed, plain record."""
    if len(data) > MAX_RECORD_BYTES:
        return {"refused": "the record is too large"}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        return {"refused": "the record is not a torch.save archive"}
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos) or \
            sum(i.file_size for i in infos) > len(data):
        return {"refused": "the record is compressed (it could inflate when loaded)"}
    try:
        record = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as err:                         # forged, truncated, or not plain
        return {"refused": f"the record could not be read ({type(err).__name__})"}
    elements = _plain(record)
    if elements < 0 or type(record) is not dict:
        return {"refused": "the record holds something other than plain outputs"}
    if elements > MAX_ELEMENTS:
        return {"refused": "the record's tensors are too large"}
    return record


def outputs_by_seed(record: dict) -> dict | str:
    """{seed: {"outputs"} or {"error"}} of a parsed record, or why there are none."""
    if "refused" in record:
        return record["refused"]
    if "unavailable" in record:
        return f"not run: {str(record['unavailable'])[:300]} (did the exercise's cell run?)"
    results = record.get("results")
    if type(results) is not dict or not all(type(r) is dict for r in results.values()):
        return "the record holds something other than plain outputs"
    return results


def _read_one(folder_fd: int, name: str, owner: int | None) -> dict:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except FileNotFoundError:
        return {"refused": MISSING}
    except OSError:
        return {"refused": "the record is not a plain file"}
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            return {"refused": "the record is not a plain file"}
        if owner is not None and st.st_uid != owner:
            return {"refused": "the record was not written by the sandbox"}
        if st.st_size > MAX_RECORD_BYTES:
            return {"refused": "the record is too large"}
        chunks, size = [], 0
        while size <= MAX_RECORD_BYTES:
            chunk = os.read(fd, 2**20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return parse(b"".join(chunks))
    finally:
        os.close(fd)


def read_records(folder, case_ids, owner: int | None) -> dict:
    """{case_id: parsed record} for the records `case_ids` in the record folder (see above).

    `owner` is the uid the sandbox writes as (None where there is no separate uid)."""
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return {c: {"refused": "the record folder was replaced (a link or a file)"} for c in case_ids}
    try:
        st = os.fstat(folder_fd)
        if owner is not None and st.st_uid != owner:
            return {c: {"refused": "the record folder was replaced"} for c in case_ids}
        return {c: _read_one(folder_fd, f"{c}.pt", owner) for c in case_ids}
    finally:
        os.close(folder_fd)


MISSING = "no record was written (the hidden step did not finish)"


def refusals(cell_runs) -> list[str]:
    """A line per refused record of an execution (execute.CellRun list), for the instructor: a
    missing record counts only where the hidden step finished (the student removed it), since a
    step that crashed or ran out of time is reported as such already."""
    by_reason: dict = {}
    for run in cell_runs:
        for case_id, record in run.records.items():
            why = record.get("refused") if isinstance(record, dict) else None
            if not why or (why == MISSING and run.hidden_status != "ok"):
                continue
            if why == MISSING:
                why = "the record was removed after the hidden step wrote it"
            by_reason.setdefault(why, []).append(case_id)
    return [f"hidden-test record{'s' if len(ids) > 1 else ''} {', '.join(ids)} refused: {why}"
            for why, ids in by_reason.items()]
