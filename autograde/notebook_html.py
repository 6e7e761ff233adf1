"""A notebook as a self-contained HTML page that needs no network: markdown rendered (mistune),
LaTeX turned into MathML on our side (latex2mathml; browsers typeset MathML themselves, so there is
no MathJax or KaTeX to fetch from a CDN), code highlighted (pygments), images inlined.

Used by the feedback pages (autograde/results/feedback.py), the class report (autograde/results/class_report.py) and the
printable quiz summaries (autograde/build/summary.py). Every fragment made from a notebook passes the
allowlist sanitizer of autograde/safe_html.py after its conversion, and `page` is the one page
shell: `lang`, the Content-Security-Policy, the shared style, and the body sanitized as a whole.
Student-made content is never trusted as HTML: with `trusted=False` raw HTML in markdown is escaped
and an output's text/html is shown as its text/plain.
"""

from __future__ import annotations

import html
import re
from xml.etree.ElementTree import tostring

import mistune
from latex2mathml.converter import convert_to_element
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from autograde import safe_html

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
MATH = re.compile(r"(?<!\\)(\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]|\\\((?P<i1>.+?)\\\)"
                  r"|\$(?P<i2>[^\s$](?:[^$\n\\]|\\.|\n(?!\s*\n))*?)\$)", re.S)
# A formula waits for the markdown renderer as a private-use character, its number, another one.
# Both characters are replaced in the input first, so no text can hold (or forge) a placeholder.
OPEN, CLOSE = "\ue000", "\ue001"
STASHED = re.compile(f"{OPEN}(\\d+){CLOSE}")
TAG = re.compile(r"(<[^>]*>)")
NUMERIC_REF = re.compile(r"&amp;(#x[0-9A-Fa-f]+;|#[0-9]+;)")
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
    """LaTeX as sanitized MathML. latex2mathml's own `convert` un-escapes its output, so the text of
    a `\\text{<img ...>}` would come out as markup: its element tree is serialized here instead (text
    escaped, latex2mathml's numeric character references kept)."""
    try:
        tree = convert_to_element(latex.strip(), display="block" if display else "inline")
    except Exception as err:                        # any failure: show the source
        if errors is not None:
            errors.append((latex, f"{type(err).__name__}: {err}"))
        return f"<code class='math-error'>{html.escape(latex)}</code>"
    return safe_html.clean(NUMERIC_REF.sub(r"&\1", tostring(tree, encoding="unicode")))


def markdown(text: str, trusted: bool = False, errors: MathErrors | None = None) -> str:
    """Markdown with $...$, $$...$$, \\(...\\), \\[...\\] as MathML; code spans keep their dollars.
    Formulas are converted before the markdown and put back after it: as MathML in text, as their
    source inside a tag (a link's title, an image's alt). The result is sanitized."""
    text = text.replace(OPEN, "\ufffd").replace(CLOSE, "\ufffd")
    maths: list[tuple[str, str]] = []

    def stash(m: re.Match) -> str:
        display = m["d1"] is not None or m["d2"] is not None
        body = next(g for g in (m["d1"], m["d2"], m["i1"], m["i2"]) if g is not None)
        maths.append((mathml(body, display, errors), html.escape(m[0])))
        return f"{OPEN}{len(maths) - 1}{CLOSE}"

    pieces = CODE.split(text)
    protected = "".join(p if i % 2 else MATH.sub(stash, p) for i, p in enumerate(pieces))
    render = mistune.create_markdown(escape=not trusted, plugins=["table", "strikethrough"])
    parts = TAG.split(render(protected))
    for i, part in enumerate(parts):               # odd parts are tags, even parts text
        parts[i] = STASHED.sub(lambda m, side=i % 2: maths[int(m[1])][side], part)
    return safe_html.clean("".join(parts))


def code(source: str) -> str:
    return safe_html.clean(highlight(source, PythonLexer(), FORMATTER))


def pre(text: str, cls: str = "") -> str:
    """Text as text: escaped, never markup."""
    return f"<pre class='{cls}'>{html.escape(ANSI.sub('', text))}</pre>"


def _image(data: dict) -> str | None:
    """The first PNG, JPEG or GIF of an output that really is one, with a text alternative: the
    output's text/plain unless it is matplotlib's bare `<Figure size ...>`."""
    for mime in safe_html.SIGNATURES:
        src = safe_html.image_src(mime, data[mime]) if isinstance(data.get(mime), str) else None
        if src:
            plain = str(data.get("text/plain", "")).strip()
            alt = plain if plain and not plain.startswith("<Figure") else "a figure this cell drew"
            return f"<img alt='{html.escape(alt)}' src='{src}'>"
    return None


def outputs(cell, trusted: bool = False, errors: MathErrors | None = None) -> str:
    """A code cell's outputs: text, images, LaTeX as MathML; an error as its name and message only
    (never a traceback); text/html only when trusted. An output with nothing that can be shown
    safely (only JavaScript, a widget, an SVG, an image that is not one) says what it was."""
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(pre(str(out.get("text", "")), "out"))
        elif kind == "error":
            parts.append(pre(f"{out.get('ename')}: {out.get('evalue')}", "out"))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            image = _image(data)
            if image:
                parts.append(image)
            elif trusted and "text/html" in data:
                parts.append(f"<div class='out'>{safe_html.clean(str(data['text/html']))}</div>")
            elif "text/latex" in data:
                latex = str(data["text/latex"]).strip().strip("$")
                parts.append(f"<div class='out'>{mathml(latex, True, errors)}</div>")
            elif "text/markdown" in data:
                parts.append(f"<div class='out'>{markdown(str(data['text/markdown']), trusted, errors)}</div>")
            elif "text/plain" in data:
                parts.append(pre(str(data["text/plain"]), "out"))
            elif data:
                parts.append(pre(f"(an output of type {', '.join(sorted(data))}: not shown)", "out"))
    return "".join(parts)


def page(title: str, body: str, extra_css: str = "") -> str:
    """The one page shell of every page this project writes: lang, a Content-Security-Policy that
    lets nothing run or load (autograde/safe_html.py), the shared style, the body sanitized."""
    css = CSS + extra_css
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{safe_html.page_policy(css)}\">"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{css}</style></head>"
            f"<body><main>{safe_html.clean_page(body)}</main></body></html>")
