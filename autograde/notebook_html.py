"""A notebook as a self-contained HTML page that needs no network: markdown rendered (mistune),
LaTeX turned into MathML on our side (latex2mathml; browsers typeset MathML themselves, so there is
no MathJax or KaTeX to fetch from a CDN), code highlighted (pygments), images inlined.

Used by the feedback pages (autograde/results/feedback.py) and the printable quiz summaries
(autograde/build/summary.py). Student-made content is never trusted as HTML: with `trusted=False` raw HTML
in markdown is escaped and an output's text/html is shown as its text/plain.
"""

from __future__ import annotations

import html
import re

import mistune
from latex2mathml.converter import convert as latex_to_mathml
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
MATH = re.compile(r"(?<!\\)(\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]|\\\((?P<i1>.+?)\\\)"
                  r"|\$(?P<i2>[^\s$](?:[^$\n\\]|\\.|\n(?!\s*\n))*?)\$)", re.S)
PLACEHOLDER = "MATHPLACEHOLDER{}X"
FORMATTER = HtmlFormatter(cssclass="hl")

CSS = """
body{font-family:system-ui,sans-serif;max-width:64em;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap;margin:.3em 0}
.hl pre{background:#f6f8fa}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccc;padding:.25em .6em;vertical-align:top}
th{background:#f0f0f0}math{font-size:1.08em}math[display=block]{margin:.5em 0}
.out{background:#fff;border:1px solid #ddd}.math-error{color:#a00}
img{max-width:100%}
""" + re.sub(r"\s*/\*.*?\*/", "", FORMATTER.get_style_defs(".hl"))   # pygments' comments name
# its token classes ("Generic.Traceback"): not text a page needs


class MathErrors(list):
    """The LaTeX snippets latex2mathml could not convert (shown as source, in red)."""


def mathml(latex: str, display: bool, errors: MathErrors | None = None) -> str:
    try:
        return latex_to_mathml(latex.strip(), display="block" if display else "inline")
    except Exception as err:                        # any failure: show the source
        if errors is not None:
            errors.append((latex, f"{type(err).__name__}: {err}"))
        return f"<code class='math-error'>{html.escape(latex)}</code>"


def markdown(text: str, trusted: bool = False, errors: MathErrors | None = None) -> str:
    """Markdown with $...$, $$...$$, \\(...\\), \\[...\\] as MathML; code spans keep their dollars."""
    maths: list[str] = []

    def stash(m: re.Match) -> str:
        display = m["d1"] is not None or m["d2"] is not None
        body = next(g for g in (m["d1"], m["d2"], m["i1"], m["i2"]) if g is not None)
        maths.append(mathml(body, display, errors))
        return PLACEHOLDER.format(len(maths) - 1)

    pieces = CODE.split(text)
    protected = "".join(p if i % 2 else MATH.sub(stash, p) for i, p in enumerate(pieces))
    render = mistune.create_markdown(escape=not trusted, plugins=["table", "strikethrough"])
    out = render(protected)
    return re.sub(r"MATHPLACEHOLDER(\d+)X", lambda m: maths[int(m[1])], out)


def code(source: str) -> str:
    return highlight(source, PythonLexer(), FORMATTER)


def pre(text: str, cls: str = "") -> str:
    return f"<pre class='{cls}'>{html.escape(ANSI.sub('', text))}</pre>"


def outputs(cell, trusted: bool = False, errors: MathErrors | None = None) -> str:
    """A code cell's outputs: text, images, LaTeX as MathML; an error as its name and message only
    (never a traceback); text/html only when trusted."""
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(pre(out.get("text", ""), "out"))
        elif kind == "error":
            parts.append(pre(f"{out.get('ename')}: {out.get('evalue')}", "out"))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "image/png" in data:
                png = data["image/png"].replace("\n", "")
                parts.append(f"<img alt='figure' src='data:image/png;base64,{png}'>")
            elif trusted and "text/html" in data:
                parts.append(f"<div class='out'>{data['text/html']}</div>")
            elif "text/latex" in data:
                latex = data["text/latex"].strip().strip("$")
                parts.append(f"<div class='out'>{mathml(latex, True, errors)}</div>")
            elif "text/markdown" in data:
                parts.append(f"<div class='out'>{markdown(data['text/markdown'], trusted, errors)}</div>")
            elif "text/plain" in data:
                parts.append(pre(data["text/plain"], "out"))
    return "".join(parts)


def page(title: str, body: str, extra_css: str = "") -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{CSS}{extra_css}</style></head>"
            f"<body>{body}</body></html>")
