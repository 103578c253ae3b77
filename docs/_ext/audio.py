"""``.. audio:: name.wav`` -- a sound computed while the docs build, playable in the page.

The directive's content is Python code, shown above the player.  It runs in the
namespace of the page's ``runcode`` blocks (names they defined can be used, and
later blocks see the names it defines); its last line is an expression giving
the samples, a 1-D array at the ``:rate:`` given.  The samples are scaled to a
peak of 0.9 of full scale, so every example plays at a similar level without
clipping, and written as a 16-bit WAV file into ``_audio/`` of the HTML output,
which an ``<audio controls>`` element plays.  ``:caption:`` (reStructuredText)
is shown under the player.

Sounds longer than ten seconds are refused: the files travel with the docs, and
a few seconds at 16 kHz is about 32 kB a second.
"""
import ast
import os

import numpy as np
from docutils import nodes
from docutils.parsers.rst import directives
from runcode import page_namespace
from sphinx.util.docutils import SphinxDirective

from ndconv._tools import io as ndconv_io

MAX_SECONDS = 10.0
_OUTDIR = {}


class Audio(SphinxDirective):
    required_arguments = 1
    has_content = True
    option_spec = {"rate": directives.positive_int, "caption": directives.unchanged}

    def run(self):
        name = self.arguments[0]
        if os.path.basename(name) != name or not name.endswith(".wav"):
            raise self.error("audio: the argument is a file name ending in .wav, got %r" % name)
        if "rate" not in self.options:
            raise self.error("audio: the :rate: option (samples per second) is required")
        rate = self.options["rate"]
        source = "\n".join(self.content)
        samples = self._evaluate(source)
        if samples.ndim != 1 or samples.size == 0:
            raise self.error("audio: the last line must give a non-empty 1-D array, got shape %s"
                             % (samples.shape,))
        if samples.size > MAX_SECONDS * rate:
            raise self.error("audio: %.1f s is longer than the %g s allowed in the docs"
                             % (samples.size / rate, MAX_SECONDS))
        peak = float(np.max(np.abs(samples)))
        if not np.isfinite(peak) or peak == 0:
            raise self.error("audio: the samples are silent or not finite (peak %r)" % peak)

        outdir = _OUTDIR.get("html")
        if outdir is not None:              # other builders have no page to play it in
            folder = os.path.join(outdir, "_audio")
            os.makedirs(folder, exist_ok=True)
            ndconv_io.write(os.path.join(folder, name), 0.9 * samples / peak, rate)

        code = nodes.literal_block(source, source, language="python")
        self.set_source_info(code)
        depth = self.env.docname.count("/")
        src = "../" * depth + "_audio/" + name
        player = ('<figure class="audio"><audio controls preload="metadata" src="%s">'
                  '<a href="%s">%s</a></audio><figcaption>' % (src, src, name))
        out = [code, nodes.raw("", player, format="html")]
        if "caption" in self.options:
            caption, messages = self.state.inline_text(self.options["caption"], self.lineno)
            out.append(nodes.paragraph("", "", *caption))
            out.extend(messages)
        out.append(nodes.raw("", "</figcaption></figure>", format="html"))
        return out

    def _evaluate(self, source):
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise self.error("audio: syntax error: %s" % exc) from None
        if not tree.body or not isinstance(tree.body[-1], ast.Expr):
            raise self.error("audio: the last line must be an expression giving the samples")
        last = tree.body.pop()
        ns = page_namespace(self.env)
        try:
            exec(compile(tree, "<audio>", "exec"), ns)
            value = eval(compile(ast.Expression(last.value), "<audio>", "eval"), ns)
        except Exception as exc:  # noqa: BLE001 - reported as a build error with the code
            raise self.error("audio: the code failed:\n%s\n%s: %s"
                             % (source, type(exc).__name__, exc)) from None
        return np.asarray(value, dtype=np.float64)


def _remember_outdir(app):
    if app.builder.format == "html":
        _OUTDIR["html"] = str(app.outdir)
    else:
        _OUTDIR.pop("html", None)


def setup(app):
    app.add_directive("audio", Audio)
    app.connect("builder-inited", _remember_outdir)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
