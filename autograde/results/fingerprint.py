"""Fingerprints of one answer, for the class integrity report (autograde/results/similarity.py).

Code: the answer is parsed and normalised, so that what a copier changes cheaply changes nothing:

- comments, docstrings, layout: lost in the parse; each statement is printed back by ast.unparse;
- renaming: every name the answer binds (variables, parameters, its own functions and classes,
  attributes it assigns, any attribute of `self`) becomes `_`; names it only reads (torch, F, the course's
  helpers, builtins, modules it imports) and attributes it only reads (.topk, .amax) stay, so different library calls
  stay different; every string literal becomes 'S';
- dead code: statements after return, raise, break or continue; `if False:` and `while False:`
  branches; pass, assert, print(...) and bare expressions that call nothing; inside a function,
  assignments to names that nothing reads (repeated until none is left);
- reordering: within a block, statements that do not depend on one another (by the names and
  attribute paths they read and write) are put in a canonical order: a topological order of their
  dependencies, ties broken by their normalised text.

The normalised statements are cut into tokens, each keeping the lines of the original statement it
came from, and every k-gram of tokens is hashed (blake2b, so that one answer gives the same
fingerprints in every run; copydetect's own k-gram hash is Python's per-process salted hash()).
copydetect's `winnow` (Schleimer, Wilkerson and Aiken 2003, the algorithm of MOSS) keeps one hash
per window of w k-grams: any run of at least k + w - 1 tokens two answers share is guaranteed to
give both at least one common fingerprint.

Text (written answers): the words are lower-cased and stemmed (Snowball's English stemmer), short
function words dropped; each pair of content words at most three apart, in either order, is one
shingle. A paraphrase that swaps a word, changes a word's form or reorders sentences keeps most
of these pairs; every shingle is kept (answers are short, no winnowing).

An answer that does not parse (a syntax error) is fingerprinted on its raw tokens, names kept.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import heapq
import re
from dataclasses import dataclass, field

import numpy as np
import snowballstemmer
from copydetect.utils import winnow

K_CODE = 8             # tokens per k-gram (the noise threshold: shorter shared runs are ignored)
WINDOW = 4             # k-grams per winnowing window: shared runs of K_CODE + WINDOW - 1 tokens are seen
TEXT_REACH = 3         # a text shingle: two content words at most this far apart, in either order
HASH_BITS = 52         # copydetect's winnow compares hashes as float64: keep them exact
TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+\.?\d*(?:[eE][-+]?\d+)?|\S")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:'[a-z]+)?|\d+(?:\.\d+)?")
STOP = frozenset("""a an the and or but if then else of to in on at by for with from as into onto
over under than that this these those it its it's is are was were be been being has have had do
does did not no nor so such can could may might must will would shall should which who whom whose
what when where why how all any each every both either neither one only own same other some more
most very also just too there their they them we our you your he she his her i me my us
while about up down out off again further once here s t""".split())
_STEM = snowballstemmer.stemmer("english")
MUTATING = frozenset({"append", "extend", "insert", "update", "add", "pop", "remove", "clear",
                      "setdefault", "discard", "sort", "reverse"})
BARRIERS = (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Yield, ast.YieldFrom, ast.Await,
            ast.Global, ast.Nonlocal)


@dataclass
class Doc:
    """One answer's fingerprints. spans[i] is where token i came from in the original answer:
    (first line, last line) for code (1-based), (start, end) character offsets for text."""
    kind: str                                       # "code" or "text"
    source: str                                     # the answer as handed in
    k: int = 1
    positions: dict[int, list[int]] = field(default_factory=dict)   # fingerprint -> token indices
    spans: list[tuple[int, int]] = field(default_factory=list)
    parsed: bool = True                             # False: a syntax error, raw tokens used

    @property
    def hashes(self) -> set[int]:
        return set(self.positions)

    def without(self, drop: set[int]) -> "Doc":
        """This document less the fingerprints in drop (the stub's, the class's common code)."""
        kept = {h: p for h, p in self.positions.items() if h not in drop}
        return Doc(self.kind, self.source, self.k, kept, self.spans, self.parsed)

    def regions(self, shared: set[int]) -> list[list[int]]:
        """The original lines (code) or character ranges (text) the shared fingerprints cover,
        merged: [[first, last], ...] for code, [[start, end), ...] for text."""
        covered = sorted({self.spans[i + j] for h in shared for i in self.positions.get(h, [])
                          for j in range(self.k) if i + j < len(self.spans)})
        merged: list[list[int]] = []
        gap = 1 if self.kind == "code" else 2          # adjacent lines; words a space apart
        for start, end in covered:
            if merged and start <= merged[-1][1] + gap:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return merged


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> (64 - HASH_BITS)


def _winnowed(tokens: list[str], k: int, window: int) -> dict[int, list[int]]:
    if len(tokens) < k:
        return {}
    grams = np.array([_hash("\x1f".join(tokens[i:i + k])) for i in range(len(tokens) - k + 1)],
                     dtype=np.int64)
    hashes, idx = winnow(grams, window, remove_duplicates=False)
    positions: dict[int, list[int]] = {}
    for h, i in zip(hashes.tolist(), idx.tolist()):
        positions.setdefault(h, []).append(i)
    return positions


# ---------------------------------------------------------------- code: normalisation
def _path(node) -> tuple | None:
    """('self', 'A') for self.A, ('x',) for x[i] or x; None for anything else."""
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        base = _path(node.value)
        return base + (node.attr,) if base else None
    if isinstance(node, ast.Subscript):
        return _path(node.value)
    return None


def _effects(stmt) -> tuple[set, set, bool]:
    """(paths read, paths written, whether it must keep its place) of one statement."""
    reads, writes, barrier = set(), set(), isinstance(stmt, BARRIERS)
    for node in ast.walk(stmt):
        if isinstance(node, BARRIERS):
            barrier = True
        elif isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            p = _path(node)
            if p:
                (writes if isinstance(node.ctx, (ast.Store, ast.Del)) else reads).add(p)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            writes.add((node.name,))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            writes.update(((a.asname or a.name).split(".")[0],) for a in node.names)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr.endswith("_") or node.func.attr in MUTATING):
            p = _path(node.func.value)                  # x.add_(...), xs.append(...): x changes
            if p:
                writes.add(p)
    if isinstance(stmt, ast.Expr) and any(isinstance(n, ast.Call) for n in ast.walk(stmt)):
        writes |= reads                                 # a bare call may change what it touches
    return reads, writes, barrier


def _overlap(a: set, b: set) -> bool:
    return any(p[:len(q)] == q[:len(p)] for p in a for q in b)


def _calls(node) -> bool:
    return any(isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)) for n in ast.walk(node))


def _is_print(stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "print")


def _const_test(test) -> bool | None:
    return bool(test.value) if isinstance(test, ast.Constant) else None


def _prune(body: list) -> list:
    """A block without dead statements (recursively)."""
    out = []
    for stmt in body:
        if isinstance(stmt, (ast.Pass, ast.Assert)) or _is_print(stmt):
            continue
        if isinstance(stmt, ast.Expr) and not _calls(stmt.value):
            continue                                    # docstrings, bare names and arithmetic
        if isinstance(stmt, ast.If) and _const_test(stmt.test) is not None:
            out += _prune(stmt.body if _const_test(stmt.test) else stmt.orelse)
            continue
        if isinstance(stmt, ast.While) and _const_test(stmt.test) is False:
            out += _prune(stmt.orelse)
            continue
        for name in ("body", "orelse", "finalbody"):
            if isinstance(getattr(stmt, name, None), list):
                setattr(stmt, name, _prune(getattr(stmt, name)))
        for handler in getattr(stmt, "handlers", []):
            handler.body = _prune(handler.body)
        out.append(stmt)
        if isinstance(stmt, (ast.Return, ast.Raise, ast.Break, ast.Continue)):
            break                                       # the rest of the block never runs
    return out


def _dead_assignment(stmt, used: set[str]) -> bool:
    """An assignment whose targets are plain names nothing in the function reads."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    else:
        return False
    names = [n for t in targets for n in ast.walk(t)]
    return all(isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Store)) for n in names) and not any(
        isinstance(n, ast.Name) and n.id in used for n in names)


def _unused_assignments(func) -> None:
    """Remove assignments to local names nothing in the function reads, until none is left."""
    declared = {n for node in ast.walk(func) if isinstance(node, (ast.Global, ast.Nonlocal))
                for n in node.names}
    while True:
        used = declared | {n.id for n in ast.walk(func)
                           if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        changed = False
        for node in ast.walk(func):
            for name in ("body", "orelse", "finalbody"):
                block = getattr(node, name, None)
                if isinstance(block, list) and any(_dead_assignment(s, used) for s in block):
                    setattr(node, name, [s for s in block if not _dead_assignment(s, used)])
                    changed = True
        if not changed:
            return


class _Rename(ast.NodeTransformer):
    """Names the answer binds -> `_`; attributes it assigns or of self -> `_`; strings -> 'S'."""

    def __init__(self, bound: set[str], attrs: set[str]):
        self.bound, self.attrs = bound, attrs

    def visit_Name(self, node):
        if node.id in self.bound:
            node.id = "_"
        return node

    def visit_arg(self, node):
        node.arg, node.annotation = "_", None
        return node

    def visit_Attribute(self, node):
        own = isinstance(node.value, ast.Name) and node.value.id == "self"
        self.generic_visit(node)
        if node.attr in self.attrs or own:
            node.attr = "_"
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, (str, bytes)):
            node.value = "S"
        return node

    def visit_JoinedStr(self, node):
        return ast.copy_location(ast.Constant("S"), node)

    def _named(self, node):
        self.generic_visit(node)
        node.name = "_"
        if hasattr(node, "returns"):
            node.returns = None
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _named

    def visit_ExceptHandler(self, node):
        self.generic_visit(node)
        node.name = "_" if node.name else None
        return node

    def visit_Global(self, node):
        node.names = ["_" for _ in node.names]
        return node

    visit_Nonlocal = visit_Global


def _bound(tree) -> tuple[set[str], set[str]]:
    names, attrs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            attrs.add(node.attr)
    return names, attrs


def _effects_of_blocks(body: list, out: dict) -> None:
    """_effects of every statement of every block, by id (read before the names are changed)."""
    for stmt in body:
        out[id(stmt)] = _effects(stmt)
        for block in _blocks(stmt):
            _effects_of_blocks(block, out)


def _blocks(stmt) -> list[list]:
    inner = [getattr(stmt, name) for name in ("body", "orelse", "finalbody")
             if isinstance(getattr(stmt, name, None), list)]
    return inner + [h.body for h in getattr(stmt, "handlers", [])]


def _reorder(body: list, effects: dict) -> list:
    """Independent statements of one block in a canonical order (inner blocks first). The names
    are already changed: a statement's normalised text is its own unparse."""
    for stmt in body:
        for name in ("body", "orelse", "finalbody"):
            if isinstance(getattr(stmt, name, None), list):
                setattr(stmt, name, _reorder(getattr(stmt, name), effects))
        for handler in getattr(stmt, "handlers", []):
            handler.body = _reorder(handler.body, effects)
    if len(body) < 2:
        return body
    eff = [effects[id(s)] for s in body]
    after = [[] for _ in body]                          # after[i]: statements that must follow i
    before = [0] * len(body)
    for j, (rj, wj, bj) in enumerate(eff):
        for i in range(j):
            ri, wi, bi = eff[i]
            if bi or bj or _overlap(wi, rj | wj) or _overlap(ri, wj):
                after[i].append(j)
                before[j] += 1
    keys = [ast.unparse(s) if len(body) > 1 else "" for s in body]
    ready = [(keys[i], i) for i in range(len(body)) if before[i] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(body[i])
        for j in after[i]:
            before[j] -= 1
            if before[j] == 0:
                heapq.heappush(ready, (keys[j], j))
    return order


def _header(stmt) -> str:
    """The first line of a compound statement (`def _(_, _):`, `for _ in range(_):`)."""
    shell = copy.copy(stmt)
    for name in ("body", "orelse", "finalbody", "handlers"):
        if hasattr(shell, name):
            setattr(shell, name, [ast.Pass()] if name == "body" else [])
    return ast.unparse(shell).rsplit("\n", 1)[0]


def _pieces(body: list, out: list) -> None:
    """(normalised text, (first, last) original line) for each statement, headers and blocks."""
    for stmt in body:
        blocks = [(None, getattr(stmt, "body", None))] if isinstance(getattr(stmt, "body", None), list) else []
        if not blocks:
            out.append((ast.unparse(stmt), (stmt.lineno, stmt.end_lineno)))
            continue
        first = stmt.body[0].lineno - 1 if stmt.body else stmt.end_lineno
        out.append((_header(stmt), (stmt.lineno, max(stmt.lineno, first))))
        blocks += [(f"except {ast.unparse(h.type) if h.type else ''}:", h.body) for h in getattr(stmt, "handlers", [])]
        blocks += [("else:", getattr(stmt, "orelse", None)), ("finally:", getattr(stmt, "finalbody", None))]
        for label, block in blocks:
            if not block:
                continue
            if label:
                out.append((label, (block[0].lineno, block[0].lineno)))
            out.append(("{", (block[0].lineno, block[0].lineno)))
            _pieces(block, out)
            out.append(("}", (block[-1].end_lineno, block[-1].end_lineno)))


def raw_tokens(source: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The tokens of code that does not parse, comments dropped, names kept."""
    tokens, spans = [], []
    for number, line in enumerate(source.splitlines(), 1):
        for tok in TOKEN.findall(line.split("#", 1)[0]):
            tokens.append(tok)
            spans.append((number, number))
    return tokens, spans


def normalise(source: str) -> tuple[list[str], list[tuple[int, int]], bool]:
    """(tokens, each token's original lines, parsed) of an answer's code."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return *raw_tokens(source), False
    tree.body = _prune(tree.body)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _unused_assignments(node)
    effects: dict = {}
    _effects_of_blocks(tree.body, effects)
    tree = _Rename(*_bound(tree)).visit(tree)
    tree.body = _reorder(tree.body, effects)
    pieces: list = []
    _pieces(tree.body, pieces)
    tokens, spans = [], []
    for text, lines in pieces:
        for tok in TOKEN.findall(text):
            tokens.append(tok)
            spans.append(lines)
    return tokens, spans, True


def code(source: str, k: int = K_CODE, window: int = WINDOW, raw: bool = False) -> Doc:
    """The fingerprints of an answer's code (raw: of its tokens as written, not normalised)."""
    tokens, spans, parsed = (*raw_tokens(source), False) if raw else normalise(source)
    return Doc("code", source, k, _winnowed(tokens, k, window), spans, parsed)


# ---------------------------------------------------------------- text
def words(text: str) -> list[tuple[str, tuple[int, int]]]:
    """(stem, (start, end)) of each content word of a written answer."""
    out = []
    for m in WORD.finditer(text):
        word = m.group().lower()
        if word in STOP or len(word) < 2:
            continue
        out.append((_STEM.stemWord(word), m.span()))
    return out


def text(source: str) -> Doc:
    content = words(source)
    positions: dict[int, list[int]] = {}
    for i, (stem, _) in enumerate(content):
        for j in range(i + 1, i + 1 + TEXT_REACH):
            if j < len(content):
                pair = sorted((stem, content[j][0]))
                positions.setdefault(_hash(" ".join(pair)), []).extend((i, j))   # both its words
    return Doc("text", source, 1, positions, [span for _, span in content])
