"""Math in the HTML pages as MathML, converted while the docs build.

Sphinx's default renderer, MathJax, is a script fetched from a CDN when the page
opens, so a reader without a network sees raw LaTeX.  docutils, which Sphinx is
built on, converts LaTeX to MathML itself, and every current browser (Chrome and
Edge since 2023, Firefox, Safari) draws MathML natively: the pages need no script,
no network and no package beyond Sphinx.  A formula docutils cannot convert is a
build warning (an error under ``-W``), never raw LaTeX on the page.
"""
from docutils import nodes
from docutils.utils.math import MathError
from docutils.utils.math.latex2mathml import tex2mathml
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)


def _convert(translator, node, latex, block):
    try:
        return tex2mathml(latex, as_block=block)
    except MathError as exc:
        logger.warning("mathml: cannot convert %r: %s", latex, exc, location=node)
        return '<span class="math-error">%s</span>' % translator.encode(latex)


def visit_math(translator, node):
    translator.body.append(translator.starttag(node, "span", "", CLASS="math notranslate"))
    translator.body.append(_convert(translator, node, node.astext(), False))
    translator.body.append("</span>")
    raise nodes.SkipNode


def visit_displaymath(translator, node):
    translator.body.append(translator.starttag(node, "div", CLASS="math notranslate"))
    # Sphinx's convention: blank lines separate equations shown one under another.
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    for part in parts:
        translator.body.append(_convert(translator, node, part, True))
    if node["number"]:
        number = get_node_equation_number(translator, node)
        translator.body.append('<span class="eqno">(%s)' % number)
        translator.add_permalink_ref(node, _("Link to this equation"))
        translator.body.append("</span>")
    translator.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
