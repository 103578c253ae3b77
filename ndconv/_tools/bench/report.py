"""The comparison table of ``ndconv bench``."""
from .libraries import FAMILIES


def summarize(result):
    """One entry per (workload, boundary, threads): ndconv's time and, per family,
    the fastest agreeing call, its time and ndconv's ratio to it."""
    out = []
    index = {}
    for r in result["rows"]:
        key = (r["wid"], r["boundary"], r["threads"])
        if key not in index:
            index[key] = {"wid": r["wid"], "workload": r["workload"], "boundary": r["boundary"],
                          "threads": r["threads"], "ndconv_s": None, "peers": {}, "notes": []}
            out.append(index[key])
        e = index[key]
        if r["lib"] == "ndconv":
            if r["status"] == "ok":
                e["ndconv_s"] = r["median_s"]
            else:
                e["notes"].append("ndconv: %s" % r["status"])
            continue
        if r["status"] == "mismatch":
            e["notes"].append("%s disagrees with ndconv (rel. difference %.1e): left out"
                              % (r["call"], r["rel_err"]))
        if r["status"] != "ok":
            continue
        best = e["peers"].get(r["family"])
        if best is None or r["median_s"] < best["median_s"]:
            e["peers"][r["family"]] = {"call": r["call"], "median_s": r["median_s"], "ratio": r.get("ratio")}
    for e in out:
        ok = [p for p in e["peers"].values()]
        fastest = min(ok, key=lambda p: p["median_s"]) if ok else None
        e["fastest"] = fastest
        e["ratio_fastest"] = (e["ndconv_s"] / fastest["median_s"]) if (fastest and e["ndconv_s"]) else None
    return out


def table_rows(result, ms, fastest, missing):
    """``(families, rows)`` of the comparison table: per workload, boundary and
    thread count, ndconv's time (format ``ms``, milliseconds), its ratio to each
    library family's fastest call, and that call (format ``fastest``, name and
    milliseconds); ``missing`` where there is nothing to show."""
    summ = summarize(result)
    fams = [f for f in FAMILIES if any(f in e["peers"] for e in summ)]
    rows = []
    for e in summ:
        cells = [e["wid"] + " " + e["workload"], e["boundary"], str(e["threads"]),
                 ms % (e["ndconv_s"] * 1e3) if e["ndconv_s"] else missing]
        for f in fams:
            p = e["peers"].get(f)
            cells.append("%.2f" % p["ratio"] if p and p["ratio"] is not None else missing)
        fb = e["fastest"]
        cells.append(fastest % (fb["call"], fb["median_s"] * 1e3) if fb else missing)
        rows.append(cells)
    return fams, rows


def format_table(result):
    """The comparison as a plain-text table."""
    fams, body = table_rows(result, "%.3f", "%s %.3f ms", "-")
    head = ["workload", "boundary", "thr", "ndconv ms"] + ["/%s" % f for f in fams] + ["fastest peer"]
    lines = []
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    right = set(range(2, len(head) - 1))

    def fmt(cells):
        return "  ".join(c.rjust(wd) if i in right else c.ljust(wd)
                         for i, (c, wd) in enumerate(zip(cells, widths))).rstrip()
    lines.append(fmt(head))
    lines.append("  ".join("-" * wd for wd in widths))
    lines.extend(fmt(c) for c in body)
    m = result["meta"]
    lines.append("")
    lines.append("/lib = ndconv's median time / the fastest call of that library for the same problem "
                 "and")
    lines.append("boundary convention (below 1: ndconv is faster).  Medians of repeats, size %r, %s, "
                 "%s cores," % (m["size"], m["cpu"], m["cores"]))
    lines.append("%s; %s." % (", ".join("%s %s" % kv for kv in m["versions"].items()), m["date"]))
    missing = [lib for lib, mod in (("OpenCV", "cv2"), ("torch", "torch"), ("scipy", "scipy"))
               if lib not in m["versions"]]
    if missing:
        lines.append("Not installed (not compared): %s." % ", ".join(missing))
    notes = [n for e in summarize(result) for n in e["notes"]]
    for n in dict.fromkeys(notes):
        lines.append("Note: " + n)
    if m.get("load_average_1min") is not None and m["load_average_1min"] > 0.5:
        lines.append("Warning: load average %.2f when the run started; timings are noisy."
                     % m["load_average_1min"])
    return "\n".join(lines)
