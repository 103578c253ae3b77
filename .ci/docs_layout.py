"""Check the built HTML docs in headless Chromium: nothing clipped at a given window width.

Usage: python .ci/docs_layout.py HTML_DIR SHOTS_DIR [--width 1280] [--chromium chromium]

Adds one page, ``_layout_check.html``, to HTML_DIR (so only use it on a scratch
build).  That page loads every other page in turn in a 1280 x 800 frame and, in
each, compares the content width (``scrollWidth``) of every code block, table,
displayed formula and image, and of the article itself, with the width it is
given (``clientWidth``) and with the article's right edge.  A horizontal scroll
bar counts as clipped: a reader of a normal-width code block should not have to
scroll.  One Chromium run checks all pages (``--allow-file-access-from-files``
lets the frame's page be read); the findings come back through ``--dump-dom``.
Then a few pages are photographed at the same size into SHOTS_DIR.

Exits 1 and lists each clipped element (page, element, widths) when any is found.
"""
import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SHOTS = ["index", "performance", "guide/layer", "guide/audio", "guide/verify"]

CHECK_PAGE = r"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>running</title></head>
<body style="margin:0">
<iframe id="f" style="width:%(width)dpx;height:%(height)dpx;border:0"></iframe>
<pre id="out"></pre>
<script>
const pages = %(pages)s;
const found = [];
function describe(el) {
  let s = el.tagName.toLowerCase();
  if (el.id) s += "#" + el.id;
  if (el.className && typeof el.className === "string") s += "." + el.className.trim().split(/\s+/).join(".");
  const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60);
  return s + (text ? " [" + text + "]" : "");
}
// Lines of code (in a >>> session, those after a prompt) that the browser wrapped.
function wrappedCode(doc, pre) {
  const texts = [];
  let pos = 0;
  const walker = doc.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) { texts.push([walker.currentNode, pos]); pos += walker.currentNode.length; }
  const at = offset => {
    let i = texts.length - 1;
    while (i > 0 && texts[i][1] > offset) i--;
    return [texts[i][0], offset - texts[i][1]];
  };
  const session = /highlight-pycon/.test(pre.closest("div[class*=highlight-]")?.className || "");
  const bad = [];
  let start = 0;
  for (const line of pre.textContent.split("\n")) {
    if (line.trim() && (!session || /^(>>>|\.\.\.)( |$)/.test(line))) {
      const range = doc.createRange();
      range.setStart(...at(start));
      range.setEnd(...at(start + line.length));
      const rects = [...range.getClientRects()].filter(r => r.width > 0);
      const tops = new Set(rects.map(r => Math.round(r.bottom)));
      if (tops.size > 1) bad.push(line.slice(0, 50));
    }
    start += line.length + 1;
  }
  return bad;
}
function check(page, doc) {
  const article = doc.querySelector(".bd-article") || doc.body;
  const right = article.getBoundingClientRect().right + 1;
  const sel = "pre, table, .pst-scrollable-table-container, div.math, img, figure, " +
              ".bd-article-container, .bd-article";
  for (const el of doc.querySelectorAll(sel)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;              // not displayed
    if (el.tagName === "PRE") {
      for (const line of wrappedCode(doc, el)) found.push([page, describe(el), "code line wraps: " + line]);
    }
    if (el.scrollWidth > el.clientWidth + 1) {
      found.push([page, describe(el), "content " + el.scrollWidth + " px in " + el.clientWidth + " px"]);
    } else if (box.right > right && !el.classList.contains("bd-article-container")) {
      found.push([page, describe(el),
                  "right edge " + Math.round(box.right) + " px, article ends at " + Math.round(right)]);
    }
  }
}
async function run() {
  const frame = document.getElementById("f");
  for (const page of pages) {
    await new Promise(resolve => { frame.onload = resolve; frame.src = page; });
    const doc = frame.contentDocument;
    if (!doc) { found.push([page, "", "could not read the page"]); continue; }
    await doc.fonts.ready;
    await new Promise(resolve => setTimeout(resolve, 50));
    check(page, doc);
  }
  document.getElementById("out").textContent = JSON.stringify(found);
  document.title = "done " + pages.length;
}
run().catch(e => { document.getElementById("out").textContent = "ERROR " + e; document.title = "error"; });
</script></body></html>
"""


def chromium_args(binary, width, height, profile):
    return [binary, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--user-data-dir=" + profile,
            "--window-size=%d,%d" % (width, height)]


def pages_of(html_dir):
    pages = []
    for root, dirs, files in os.walk(html_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("_") and d != "plot_directive")
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(root, name), html_dir).replace(os.sep, "/")
            if name.endswith(".html") and not name.startswith("_"):
                pages.append(rel)
    return pages


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html_dir")
    ap.add_argument("shots_dir")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = ap.parse_args(argv)
    html_dir = os.path.abspath(args.html_dir)
    pages = pages_of(html_dir)
    if "index.html" not in pages:
        sys.exit("%s has no index.html: build the docs first" % html_dir)
    check = os.path.join(html_dir, "_layout_check.html")
    with open(check, "w", encoding="utf-8") as f:
        f.write(CHECK_PAGE % {"width": args.width, "height": args.height,
                              "pages": json.dumps(pages)})
    os.makedirs(args.shots_dir, exist_ok=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as profile:
        base = chromium_args(args.chromium, args.width + 40, args.height, profile)
        # virtual time runs the page's timers and loads without waiting in real time
        proc = subprocess.run(base + ["--allow-file-access-from-files",
                                      "--virtual-time-budget=120000", "--dump-dom",
                                      "file://" + check],
                              capture_output=True, text=True, timeout=600)
        m = re.search(r'<pre id="out">(.*?)</pre>', proc.stdout, re.S)
        if proc.returncode != 0 or not m or "<title>done" not in proc.stdout:
            print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
            sys.exit("the layout check page did not finish in Chromium")
        found = json.loads(html.unescape(m.group(1)))
        checked = time.monotonic() - start
        for page in SHOTS:
            if page + ".html" not in pages:
                continue
            png = os.path.join(os.path.abspath(args.shots_dir), page.replace("/", "_") + ".png")
            subprocess.run(chromium_args(args.chromium, args.width, args.height, profile)
                           + ["--screenshot=" + png,
                              "file://" + os.path.join(html_dir, page + ".html")],
                           capture_output=True, timeout=120, check=True)
    os.remove(check)
    print("layout at %d px: %d pages checked in %.1f s; screenshots in %s (%.1f s in all)"
          % (args.width, len(pages), checked, args.shots_dir, time.monotonic() - start))
    for page, element, why in found:
        print("  CLIPPED %s: %s -- %s" % (page, element, why))
    if found:
        print("%d clipped elements at %d px" % (len(found), args.width))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
