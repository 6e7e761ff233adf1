"""What may reach a page this project writes: an allowlist HTML sanitizer (nh3, the Python binding
of the Rust crate ammonia), images checked byte by byte, and the Content-Security-Policy every page
carries.

Everything a student controls (markdown, math, outputs of every MIME type, names, file names) is
either escaped as text or, when it is markup (rendered markdown, MathML, code highlighting, a
trusted notebook's HTML), passed through `clean` after it was converted. `clean` keeps the tags
and attributes of rendered notebooks and MathML and nothing else: no script, style, iframe, form
or svg; no event handler and no `style` on any element; no `href` on MathML; links only to
http(s), mailto or a fragment of the same page; images only as `data:` URLs of a PNG, JPEG or GIF
whose decoded bytes start with that format's signature, re-encoded here (so no data can close the
attribute it sits in). `page_policy` is the CSP of the page shell (autograde/notebook_html.py
`page`): nothing loads or runs but the page's own style block and inline images.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

import nh3
from pygments.token import STANDARD_TYPES

HTML_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "ol", "p", "pre", "q", "s", "samp",
    "section", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "u", "ul", "var",
}
# MathML as latex2mathml writes it (no maction, no annotation-xml: both can carry HTML or actions)
MATHML_TAGS = {
    "math", "menclose", "merror", "mfrac", "mi", "mmultiscripts", "mn", "mo", "mover", "mpadded",
    "mphantom", "mprescripts", "mroot", "mrow", "ms", "mspace", "msqrt", "mstyle", "msub",
    "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover", "none",
}
MATHML_ATTRIBUTES = {
    "accent", "accentunder", "columnalign", "columnlines", "columnspacing", "columnspan", "depth",
    "displaystyle", "fence", "form", "frame", "height", "largeop", "linethickness", "lspace",
    "mathvariant", "maxsize", "minsize", "movablelimits", "notation", "rowalign", "rowlines",
    "rowspacing", "rowspan", "rspace", "scriptlevel", "separator", "stretchy", "symmetric", "width",
}
ATTRIBUTES = {
    "a": {"href", "title"}, "abbr": {"title"}, "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan", "scope"},
    **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS - {"math"}},
}
MATH_VALUES = {"math": {"xmlns": {"http://www.w3.org/1998/Math/MathML"}, "display": {"block", "inline"}}}
# a student's fragment may carry only the classes our own renderers give (code highlighting)
FRAGMENT_CLASSES = {"span": set(STANDARD_TYPES.values()) - {""}, "div": {"hl"}, "pre": {"out"},
                    "code": {"math-error"}}
LENGTH = re.compile(r"\s*\d{1,3}(\.\d{1,4})?\s*(em|ex|pt|px|mu|%)?\s*\Z")
LENGTH_ATTRIBUTES = {"width", "height", "depth", "lspace", "rspace", "minsize", "maxsize",
                     "linethickness", "columnspacing", "rowspacing"}
LINK = re.compile(r"(https?://|mailto:|#)", re.I)

# The image formats a page may show, by the bytes they start with (their signatures).
SIGNATURES = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
              "image/gif": (b"GIF87a", b"GIF89a")}
DATA_IMAGE = re.compile(r"data:(image/[a-z]+);base64,([A-Za-z0-9+/=\s]*)\Z", re.I)


def image_src(mime: str, data: str | bytes) -> str | None:
    """A `data:` URL for an image, or None unless `data` (base64 text or bytes) decodes to a real
    PNG, JPEG or GIF of that type. Re-encoded here: nothing of the input's text reaches the page."""
    if mime not in SIGNATURES:
        return None
    if isinstance(data, str):
        try:
            data = base64.b64decode("".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            return None
    if not data.startswith(SIGNATURES[mime]):
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def data_image(url: str) -> str | None:
    """The URL again (re-encoded) if it is a `data:` URL of a valid PNG, JPEG or GIF, else None."""
    m = DATA_IMAGE.match(url.strip())
    return image_src(m[1].lower(), m[2]) if m else None


def _attribute(tag: str, name: str, value: str) -> str | None:
    if name == "href":
        return value if LINK.match(value.strip()) else None
    if name == "src":
        return data_image(value)
    if name in LENGTH_ATTRIBUTES and tag != "img":
        return value if LENGTH.match(value) else None
    return value


_COMMON = dict(tags=HTML_TAGS | MATHML_TAGS, clean_content_tags={"script", "style", "template"},
               url_schemes={"http", "https", "mailto", "data"}, attribute_filter=_attribute,
               tag_attribute_values=MATH_VALUES, strip_comments=True)
_FRAGMENT = nh3.Cleaner(attributes=ATTRIBUTES, allowed_classes=FRAGMENT_CLASSES, **_COMMON)
_PAGE = nh3.Cleaner(attributes={**ATTRIBUTES, "*": {"class", "id"}}, **_COMMON)


def clean(fragment: str) -> str:
    """A fragment made of student content (after Markdown and MathML conversion), sanitized."""
    return _FRAGMENT.clean(fragment)


def clean_page(body: str) -> str:
    """A page body, sanitized once more as a whole: our own classes and ids are kept. A helper who
    forgets to escape one string still cannot put a script on a page."""
    return _PAGE.clean(body)


def page_policy(css: str) -> str:
    """The Content-Security-Policy of a page whose only style is the block `css`: no script, no
    request, images only inline (`data:`), that one style block by its hash."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
            "base-uri 'none'; form-action 'none'")
