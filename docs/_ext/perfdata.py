"""The landing page's speed numbers, read from ``_static/perf/perf.json`` while the docs build.

``perf.json`` is written by ``benchmarks/plot_performance.py`` (see the Performance
page); nothing here measures.  :func:`best_calls` reduces it to the fastest call of
each library per workload, :func:`speedup_figure` draws those ratios, and the
``.. perf-headline::`` directive tabulates a few workloads' times, so every number
on the landing page is one of the stored measurements.
"""
import json
import os
import re

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

PERF_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "_static", "perf", "perf.json")


def best_calls(path=PERF_JSON, threads=1):
    """Per workload: ndconv's row and each other library's fastest row.

    Returns a list, in the file's order, of ``(ndconv_row, {family: row})`` for the
    first boundary measured of each workload (ratios barely depend on it), at
    ``threads`` threads.  Rows are perf.json's (``median_s``, ``call``, ...).
    """
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)["bench"]["rows"]
    groups = {}
    for row in rows:
        if row["status"] != "ok" or row["threads"] != threads:
            continue
        key = (row["wid"], row["boundary"])
        if key[0] in {k[0] for k in groups} and key not in groups:
            continue                    # a second boundary of a workload already seen
        best = groups.setdefault(key, {})
        fam = row["family"]
        if fam not in best or row["median_s"] < best[fam]["median_s"]:
            best[fam] = row
    out = []
    for best in groups.values():
        if "ndconv" in best and len(best) > 1:
            mine = best.pop("ndconv")
            out.append((mine, best))
    return out


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _label(row):
    """``W3b 2-D f32 2048², 5x5`` from the row's ``2048^2``."""
    workload = re.sub(r"\^(\d+)", lambda m: m.group(1).translate(_SUPERSCRIPT), row["workload"])
    return "%s %s" % (row["wid"], workload)


def speedup_figure(path=PERF_JSON):
    """Horizontal bars: how many times faster ndconv is than scipy and than the fastest peer."""
    import matplotlib.pyplot as plt
    import numpy as np

    data = best_calls(path)
    labels = [_label(mine) for mine, _ in data]
    vs_scipy = [peers["scipy"]["median_s"] / mine["median_s"] if "scipy" in peers else np.nan
                for mine, peers in data]
    vs_best = [min(r["median_s"] for r in peers.values()) / mine["median_s"]
               for mine, peers in data]
    y = np.arange(len(data))[::-1]
    fig, ax = plt.subplots(figsize=(9.6, 0.36 * len(data) + 1.3))
    bars1 = ax.barh(y + 0.2, vs_scipy, height=0.4, color="C0", label="scipy's fastest call")
    bars2 = ax.barh(y - 0.2, vs_best, height=0.4, color="C1",
                    label="the fastest call of scipy, numpy, OpenCV or PyTorch")
    for bars in (bars1, bars2):
        ax.bar_label(bars, fmt="%.1f×", padding=2, fontsize=8)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100) if t < max(vs_scipy + vs_best) * 2]
    ax.set_xticks(ticks, ["%d×" % t for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(0.8, max(vs_scipy + vs_best) * 2)
    ax.set_yticks(y, labels)
    ax.set_xlabel("how many times faster ndconv is than ... (log scale)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return fig


class PerfHeadline(SphinxDirective):
    """``.. perf-headline:: W1 W3b W5`` -- a table of those workloads' median times."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {"class": directives.class_option}

    def run(self):
        self.env.note_dependency(PERF_JSON)
        wanted = self.arguments[0].split()
        data = {mine["wid"]: (mine, peers) for mine, peers in best_calls()}
        missing = [w for w in wanted if w not in data]
        if missing:
            raise self.error("perf-headline: no measurement of %s in perf.json" % missing)
        head = ["Problem (1 thread)", "ndconv", "scipy's fastest call", "fastest other call"]
        body = []
        for wid in wanted:
            mine, peers = data[wid]
            other = min(peers.values(), key=lambda r: r["median_s"])
            cells = [_label(mine), "%.3g\u00a0ms" % (1e3 * mine["median_s"])]
            for row in (peers.get("scipy"), other):
                cells.append("--" if row is None else "%.3g\u00a0ms (%.1f× slower): ``%s``" % (
                    1e3 * row["median_s"], row["median_s"] / mine["median_s"], row["call"]))
            body.append(cells)
        return [self._table(head, body)]

    def _table(self, head, body):
        table = nodes.table(classes=["perf-table"] + self.options.get("class", []))
        group = nodes.tgroup(cols=len(head))
        table += group
        group.extend(nodes.colspec(colwidth=w) for w in (30, 10, 30, 30))
        rows = []
        for cells in [head] + body:
            row = nodes.row()
            for text in cells:
                inline, messages = self.state.inline_text(text, self.lineno)
                row += nodes.entry("", nodes.paragraph("", "", *inline), *messages)
            rows.append(row)
        group += nodes.thead("", rows[0])
        group += nodes.tbody("", *rows[1:])
        return table


def setup(app):
    app.add_directive("perf-headline", PerfHeadline)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
