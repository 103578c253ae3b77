"""Sphinx configuration for the ndconv documentation.

Builds offline with warnings as errors::

    python -m sphinx -W -b html docs docs/_build/html

Every figure and every printed result is computed while the docs build (the
matplotlib plot directive and the local ``runcode`` directive), so the pages
always show what the installed ndconv does.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# docs/_ext holds the local extension and the figure helpers.
sys.path.insert(0, os.path.join(HERE, "_ext"))
# The source tree first, so an in-place (or editable) build is documented rather than
# an older installed copy; after a plain ``pip install .`` the tree has no compiled
# core, and the installed package is used instead.
sys.path.insert(0, ROOT)
try:
    import ndconv
except ImportError:
    # also '' or '.' when run from the repository root, as ``python -m sphinx`` is
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != ROOT]
    for _name in [m for m in sys.modules if m == "ndconv" or m.startswith("ndconv.")]:
        del sys.modules[_name]
    import ndconv

project = "ndconv"
author = "the ndconv developers"
copyright = "2026, " + author
version = release = ndconv.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
    "runcode",
    "mathml",
    "audio",
    "perfdata",
]

exclude_patterns = ["_build"]
templates_path = []
default_role = "code"

# -- API reference ---------------------------------------------------------
autosummary_generate = False        # tables only; the entries are autofunction blocks
autodoc_typehints = "none"          # the numpydoc Parameters section says it all
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- Figures -----------------------------------------------------------------
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 96)]        # one format keeps the build quick
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\nimport ndconv\n"
plot_rcparams = {
    "figure.figsize": (7.0, 2.6),
    "figure.dpi": 96,
    "figure.constrained_layout.use": True,
    "axes.titlesize": "medium",
    "image.cmap": "gray",
    "font.size": 9,
}
plot_apply_rcparams = True

# -- Math --------------------------------------------------------------------
# MathML written into the pages (docs/_ext/mathml.py), so formulas show offline.
html_math_renderer = "mathml"

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "ndconv %s" % release
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    # one line of header links at 1280 px; the rest go into a "More" menu
    "header_links_before_dropdown": 5,
    "navbar_align": "left",
    "navbar_persistent": ["search-button"],
}
# Top-level pages have no section navigation, and an empty left sidebar would
# take a quarter of the width from the code (``*`` does not match ``guide/...``).
html_sidebars = {"*": []}
html_static_path = ["_static"]
html_css_files = ["ndconv.css"]
