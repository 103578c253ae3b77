"""``.. runcode::`` -- run Python code while the docs build and show it with its output.

The block is shown as an interactive session (``>>>`` prompts) whose printed
output and expression values come from running the code during the build, so
examples cannot drift from what ndconv really does.  An exception fails the
build, unless the block has the ``:raises:`` option, in which case the last
statement must raise and its one-line message is shown (to document errors).

Blocks of one page share a namespace that starts with ``np`` and ``ndconv``
imported, so later blocks can use names from earlier ones.
"""
import ast
import contextlib
import io
import traceback

import numpy as np
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try,
             ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def page_namespace(env):
    """The namespace the code blocks of the page being read share (made on first use)."""
    if "runcode_ns" not in env.temp_data:
        import ndconv
        env.temp_data["runcode_ns"] = {"np": np, "ndconv": ndconv, "__name__": "__runcode__"}
    return env.temp_data["runcode_ns"]


def _chunks(source):
    """Split ``source`` into (lines, first statement line index, node) per top-level statement.

    Comment lines before a statement travel with it.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    out, prev_end = [], 0
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        end = node.end_lineno
        chunk = lines[prev_end:end]
        first = start - prev_end
        # drop blank lines before the statement and its comments
        while chunk and not chunk[0].strip():
            chunk.pop(0)
            first -= 1
        out.append((chunk, first, node))
        prev_end = end
    return out


def _render(chunk, first, node):
    text = []
    for i, line in enumerate(chunk):
        prompt = ">>> " if i <= first else "... "
        text.append((prompt + line).rstrip())
    if isinstance(node, _COMPOUND):
        text.append("...")
    return text


class RunCode(SphinxDirective):
    has_content = True
    option_spec = {"raises": directives.flag}

    def run(self):
        source = "\n".join(self.content)
        ns = page_namespace(self.env)
        try:
            chunks = _chunks(source)
        except SyntaxError as exc:
            raise self.error("runcode: syntax error: %s" % exc) from None
        shown, raised = [], False
        for n, (chunk, first, node) in enumerate(chunks):
            shown.extend(_render(chunk, first, node))
            buf = io.StringIO()
            try:
                with contextlib.redirect_stdout(buf), np.printoptions(precision=4, suppress=True):
                    if isinstance(node, ast.Expr):
                        code = compile(ast.Expression(node.value), "<runcode>", "eval")
                        value = eval(code, ns)
                        if value is not None:
                            print(repr(value))
                    else:
                        module = ast.Module(body=[node], type_ignores=[])
                        exec(compile(module, "<runcode>", "exec"), ns)
            except Exception as exc:  # noqa: BLE001 - reported below, never swallowed
                if "raises" in self.options and n == len(chunks) - 1:
                    shown.extend(buf.getvalue().rstrip("\n").splitlines())
                    shown.append("Traceback (most recent call last):")
                    shown.append("  ...")
                    shown.append("%s: %s" % (type(exc).__name__, exc))
                    raised = True
                    continue
                tb = "".join(traceback.format_exception(exc)[-3:])
                raise self.error("runcode: the example failed:\n%s\n%s" % ("\n".join(chunk), tb)) from None
            shown.extend(buf.getvalue().rstrip("\n").splitlines())
        if "raises" in self.options and not raised:
            raise self.error("runcode: :raises: given but the last statement did not raise")
        text = "\n".join(shown)
        block = nodes.literal_block(text, text, language="pycon")
        self.set_source_info(block)
        return [block]


def setup(app):
    app.add_directive("runcode", RunCode)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
