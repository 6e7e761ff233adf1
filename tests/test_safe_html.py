"""What may reach a page (autograde/safe_html.py) and what the formgrader may render
(autograde/results/nbgrader_dirs.py `inert`), checked without a browser: the sanitizer's allowlist, image
checks and page policy, and an autograded notebook that nbconvert's HTML exporter renders without
any of the hostile student's payloads active, with its sanitizer off (tests/test_browser.py shows
the same in Chromium, in the formgrader itself)."""

import base64
import hashlib
import re

import nbformat
import pages
from nbconvert import HTMLExporter

from autograde import safe_html
from autograde.build import samples
from autograde.config import Course
from autograde.results import nbgrader_dirs

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def test_the_allowlist_keeps_notebook_markup_and_mathml_and_nothing_active():
    kept = ('<p><a href="#cell-x" rel="noopener noreferrer">x</a> <code>y</code></p><table><tbody>'
            '<tr><td>1</td></tr></tbody></table><math xmlns="http://www.w3.org/1998/Math/MathML" '
            'display="block"><mfrac><mi>a</mi><mi>b</mi></mfrac></math>')
    assert safe_html.clean(kept) == kept
    hostile = ("<script>x</script><svg onload=x></svg><iframe src=x></iframe><img src=x onerror=x>"
               "<a href='javascript:x'>a</a><a href='data:text/html,x'>b</a><p style='position:fixed'"
               " class='verdict' id='cell-x'>c</p><math><mrow href='javascript:x' style='color:red'>"
               "<mspace width='-100em'/><mi class='verdict'>d</mi></mrow></math>")
    assert safe_html.clean(hostile) == ('<img><a rel="noopener noreferrer">a</a><a rel="noopener '
                                        'noreferrer">b</a><p>c</p><math><mrow><mspace></mspace><mi>d'
                                        '</mi></mrow></math>')
    assert safe_html.clean_page("<p class='verdict' id='cell-x'>c</p>") == '<p class="verdict" id="cell-x">c</p>'


def test_images_are_checked_byte_by_byte_and_re_encoded():
    b64 = base64.b64encode(PNG).decode()
    assert safe_html.image_src("image/png", b64[:8] + "\n" + b64[8:]) == f"data:image/png;base64,{b64}"
    assert safe_html.image_src("image/png", b64 + "' onerror='x") is None      # closes the attribute
    assert safe_html.image_src("image/jpeg", b64) is None                       # not a JPEG
    assert safe_html.image_src("image/svg+xml", base64.b64encode(b"<svg/>").decode()) is None
    assert safe_html.data_image(f"data:image/gif;base64,{base64.b64encode(b'GIF89a..').decode()}")
    assert safe_html.data_image("data:text/html;base64,PHNjcmlwdD4=") is None


def test_the_page_policy_allows_only_its_own_style_block():
    css = "body{color:#222}"
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert safe_html.page_policy(css) == (f"default-src 'none'; style-src 'sha256-{digest}'; "
                                          "img-src data:; base-uri 'none'; form-action 'none'")


def test_inert_text_reads_the_same_and_forms_no_markup():
    text = "a < b, <img src=x onerror=y> &#60; $\\href{javascript:y}{z}$ [l](javascript\\:y) \\alpha"
    inert = nbgrader_dirs.inert_text(text)
    assert "<" not in inert and "&#" not in inert and "\\href" not in inert and "javascript:" not in inert
    assert inert.replace("\u2060", "").replace("\u02c2", "<") == text.replace("\\:", ":")


def test_the_formgrader_s_renderer_runs_nothing_of_an_inert_notebook():
    """nbconvert's classic template (the formgrade template's base), sanitizer off: the hostile
    notebook as handed in carries live payloads; the inert one none."""
    source = nbformat.read(Course().source("lora"), as_version=4)
    graded = pages.executed(source, pages.hostile_notebook(samples.demo_samples(source, "lora")["correct"]))
    exporter = HTMLExporter(template_name="classic", sanitize_html=False)

    def live(nb) -> list[str]:
        body = exporter.from_notebook_node(nb)[0].split("<body", 1)[1]
        return (re.findall(r"<[a-z]+[^>]*\son[a-z]+=[^>]*>", body)
                + re.findall(r"<script[^>]*>[^<]*PWNED", body)
                + re.findall(r"href=\"\s*javascript:[^\"]*", body)
                + re.findall(r"\\(?:href|style)\{", body))
    assert len(live(graded)) >= 8                     # the control: the payloads are there
    texts = {c.source for c in source.cells if c.cell_type != "code"}
    inert = nbgrader_dirs.inert(graded, texts)
    assert live(inert) == []
    assert "widgets" not in inert.metadata
    kept = [c for c in inert.cells if c.cell_type == "markdown" and c.source in texts]
    assert len(kept) == len([c for c in graded.cells if c.cell_type == "markdown" and c.source in texts])
