r"""Browser check of the built book: every page of ``_toc.yml`` in headless Chromium.

For each page this test loads ``_build/html/<page>.html`` from a local HTTP server in Debian's
Chromium (driven by Playwright, without Playwright's own browser download) and fails when

* a math element is left untypeset (no ``mjx-container``), MathJax reports a TeX error
  (``mjx-merror``), or raw TeX such as ``\(``, ``$$``, ``\begin{...}`` or ``\frac`` is visible in
  the text outside code;
* an image is missing (a 404 or ``naturalWidth == 0``);
* a JavaScript error happens (an uncaught exception, a ``console.error``, a failed request), except
  the known harmless 404s of the widget icon fonts;
* a widget saved in the page (``widget-view+json``) is not rendered;
* a page fetches anything from outside the local server (the book must render offline: MathJax
  and the widget JavaScript are vendored by ``scripts/fetch_static_js.sh``);
* something is cut off for the reader, at a desktop width (1280 px) and a phone width (400 px):
  the page scrolls sideways (at either width); a display equation is wider than the text column at
  1280 px (at 400 px an equation may scroll inside its own box); a line of a cell's output is wider
  than its box (a check's verdict or tolerance hidden behind a scrollbar).

It takes one screenshot per page and width into ``_build/html/_screenshots/<page>-<width>.png``.

The test skips (with the reason) when the book has not been built or no Chromium is found, unless
``BOOK_BROWSER_CHECK=required`` (set by ``scripts/run_tests.sh``), which turns the skip into a
failure. ``BOOK_ROOT`` points it at another book root (holding ``_toc.yml`` and ``_build/html``).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BOOK_ROOT = Path(os.environ.get("BOOK_ROOT", Path(__file__).resolve().parents[1]))
HTML_DIR = BOOK_ROOT / "_build" / "html"
SCREENSHOT_DIR = HTML_DIR / "_screenshots"
REQUIRED = os.environ.get("BOOK_BROWSER_CHECK", "").lower() == "required"

#: Chromium flags for a closed network and a root user (see the machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]

#: Known harmless failures: the icon fonts that the widget manager asks for next to the page.
HARMLESS_URL = re.compile(r"@jupyter-widgets/.*\.(woff2?|ttf|eot|svg)(\?.*)?$")

#: At most this many problems are listed per page in a failure message.
MAX_LISTED = 25

#: Screenshots are cut at this height (px) so that long chapters stay reasonable PNGs.
MAX_SHOT_HEIGHT = 12000

#: Viewport widths (px) at which every page is checked: a desktop browser and a phone.
WIDTHS = (1280, 400)

# Runs in the page at the current viewport width: what is cut off for the reader.
LAYOUT_PROBLEMS_JS = r"""
(strictMath) => {
  const problems = [];
  const W = window.innerWidth;
  const pageW = document.documentElement.scrollWidth;
  if (pageW > W + 1) problems.push(`the page scrolls sideways at ${W} px (content ${pageW} px wide)`);
  const text = (el) => el.textContent.trim().replace(/\s+/g, ' ').slice(0, 70);
  if (strictMath) {
    document.querySelectorAll('mjx-container[display="true"]').forEach((el, i) => {
      const inner = el.querySelector('mjx-math');
      if (!inner) return;
      const need = inner.getBoundingClientRect().width;
      // the narrower of the equation's own box and its parent: either one cuts the equation off
      const own = el.getBoundingClientRect().width;
      const box = el.parentElement ? Math.min(own, el.parentElement.getBoundingClientRect().width) : own;
      if (need > box + 2) {
        const label = el.closest('div.math') ? (el.closest('div.math').id || '') : '';
        problems.push(`display equation #${i} ${label} is ${Math.round(need)} px wide in a ${Math.round(box)} px ` +
                      `column at ${W} px: ${text(el.querySelector('mjx-assistive-mml') || el)}`);
      }
    });
  }
  document.querySelectorAll('div.cell_output pre, div.output pre').forEach((el, i) => {
    if (el.scrollWidth > el.clientWidth + 1) {
      problems.push(`output line cut off at ${W} px (${el.scrollWidth} px in a ${el.clientWidth} px box): ` +
                    `${text(el)}`);
    }
  });
  return problems;
}
"""

# Runs in the page: every problem a reader would see, as a list of strings.
PAGE_PROBLEMS_JS = r"""
async () => {
  const problems = [];
  // 1. math: every Sphinx/MyST math element must hold a typeset mjx-container
  const mathEls = Array.from(document.querySelectorAll('.math, span.math, div.math'));
  if (mathEls.length > 0 && !(window.MathJax && window.MathJax.startup)) {
    problems.push(`MathJax did not load, but the page has ${mathEls.length} math element(s)`);
  }
  mathEls.forEach((el, i) => {
    if (!el.querySelector('mjx-container')) {
      problems.push(`untypeset math #${i}: ${el.textContent.trim().slice(0, 80)}`);
    }
  });
  document.querySelectorAll('mjx-merror').forEach((el) => {
    const msg = el.getAttribute('data-mjx-error') || el.textContent;
    problems.push(`MathJax error: ${msg.slice(0, 120)}`);
  });
  // an undefined macro is typeset as red literal text (MathJax's noundefined extension)
  document.querySelectorAll('mjx-assistive-mml mtext[mathcolor="red"]').forEach((el) => {
    if (/^\\[A-Za-z]+/.test(el.textContent)) {
      problems.push(`undefined TeX macro: ${el.textContent.slice(0, 80)}`);
    }
  });
  // 2. raw TeX in visible text outside code and outside typeset math
  const skip = ['pre', 'code', 'script', 'style', 'textarea', 'noscript', 'kbd', 'samp',
                'mjx-container', '.highlight'].join(', ');
  const rawTeX = new RegExp([
    String.raw`\\[()\[\]]`,                       // \( \) \[ \] delimiters
    String.raw`\$\$`,                             // $$ display delimiters
    String.raw`\\(begin|end)\{`,                  // environments
    String.raw`\\(frac|tfrac|dfrac|sqrt|mathrm|mathbb|mathcal|int|sum|nabla|partial|left|right` +
      String.raw`|alpha|beta|gamma|Vert|cdot|otimes|log)\b`,   // common macros
    String.raw`\$[^$\s][^$]*\\[A-Za-z]+[^$]*\$`,  // $...\macro...$ left as text
  ].join('|'));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    const text = node.textContent;
    const m = text.match(rawTeX);
    if (m) {
      const at = Math.max(0, m.index - 30);
      problems.push(`raw TeX in text: ...${text.slice(at, m.index + 50).replace(/\s+/g, ' ')}...`);
    }
  }
  // 3. images: loaded and non-empty
  const imgs = Array.from(document.images);
  imgs.forEach((img) => { img.loading = 'eager'; });
  await Promise.all(imgs.map((img) => img.decode().catch(() => null)));
  imgs.forEach((img) => {
    if (!img.complete || img.naturalWidth === 0) {
      problems.push(`missing image: ${img.getAttribute('src')}`);
    }
  });
  return problems;
}
"""

# Runs in the page: saved widget views that have not (yet) been rendered by the embed manager.
UNRENDERED_WIDGETS_JS = r"""
() => {
  const out = [];
  document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').forEach((s, i) => {
    const prev = s.previousElementSibling;
    const ok = prev && prev.classList.contains('widget-subarea')
      && prev.querySelector('.jupyter-widgets, .widget-inline-hbox, .widget-box, .lm-Widget, .p-Widget');
    if (!ok) out.push(`widget view #${i} not rendered`);
  });
  return out;
}
"""


def _find_chromium() -> str | None:
    """Path of a Chromium executable: $CHROMIUM, /usr/bin/chromium, or chromium on PATH."""
    for cand in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def _toc_pages(root: Path) -> list[str]:
    """Document names (``book/intro``, ...) of ``_toc.yml``, in reading order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages: list[str] = [toc["root"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                pages.append(str(node["file"]))
            for key in ("parts", "chapters", "sections"):
                if key in node:
                    walk(node[key])
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [re.sub(r"\.(md|ipynb)$", "", p) for p in pages]


def _skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"browser check required (BOOK_BROWSER_CHECK=required) but {reason}")
    pytest.skip(reason)


PAGES = _toc_pages(BOOK_ROOT) if (BOOK_ROOT / "_toc.yml").is_file() else []


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Serve ``_build/html`` on a free localhost port; yield its base URL."""
    if not (HTML_DIR / "index.html").is_file():
        _skip_or_fail(
            f"the book is not built ({HTML_DIR / 'index.html'} missing; run scripts/build_book.sh)"
        )
    handler = functools.partial(_QuietHandler, directory=str(HTML_DIR))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    """Headless Debian Chromium with a fresh profile, driven by Playwright."""
    chromium = _find_chromium()
    if chromium is None:
        _skip_or_fail("no Chromium found (apt-get install chromium, or set $CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("the playwright package is not installed (pip install -r requirements.txt)")
    profile = tempfile.mkdtemp(prefix="book-chromium-")
    with sync_playwright() as pw:
        # a persistent context in a new, empty directory = a fresh --user-data-dir
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page_name", PAGES)
def test_book_page_renders(page_name: str, width: int, server: str, browser: Any) -> None:
    """The page typesets its math, shows its images and widgets, raises no JS error, and cuts nothing off."""
    html_file = HTML_DIR / f"{page_name}.html"
    assert html_file.is_file(), f"{page_name} is in _toc.yml but {html_file} was not built"

    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    url = f"{server}/{page_name}.html"
    problems: list[str] = []
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": 900})

    def on_console(msg: Any) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if HARMLESS_URL.search(where) or HARMLESS_URL.search(msg.text):
            return
        problems.append(f"console error: {msg.text[:300]} ({where})")

    def on_response(resp: Any) -> None:
        if resp.status >= 400 and not HARMLESS_URL.search(resp.url):
            problems.append(f"HTTP {resp.status}: {resp.url}")

    def on_request_failed(req: Any) -> None:
        if not HARMLESS_URL.search(req.url) and req.url.startswith(server):
            problems.append(f"request failed: {req.url} ({req.failure})")

    def on_route(route: Any) -> None:
        req_url = route.request.url
        if req_url.startswith(server) or req_url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            problems.append(f"external request (the book must render offline): {req_url}")
            route.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"uncaught JS exception: {str(exc)[:300]}"))
    page.on("response", on_response)
    page.on("requestfailed", on_request_failed)
    page.route("**/*", on_route)
    try:
        page.goto(url, wait_until="load", timeout=60_000)
        # MathJax typesets asynchronously after load; its startup promise resolves when done.
        page.evaluate(
            "async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise)"
            " { await MathJax.startup.promise; } }"
        )
        # The widget embed manager renders saved widgets asynchronously too: give it 15 s.
        unrendered: list[str] = []
        for _ in range(60):
            unrendered = page.evaluate(UNRENDERED_WIDGETS_JS)
            if not unrendered:
                break
            page.wait_for_timeout(250)
        problems.extend(unrendered)
        try:  # let late requests (fonts, images) finish; their failures are recorded above
            page.wait_for_load_state("networkidle", timeout=10_000)
        except PlaywrightTimeoutError:
            pass
        problems.extend(page.evaluate(PAGE_PROBLEMS_JS))
        problems.extend(page.evaluate(LAYOUT_PROBLEMS_JS, width >= 1000))

        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOT_DIR / f"{Path(page_name).name}-{width}.png"
        # a viewport as tall as the page (capped) instead of full_page=True, whose emulation
        # lets the theme's sticky sidebar scroll sideways in the picture
        height = int(page.evaluate("() => document.documentElement.scrollHeight"))
        page.set_viewport_size({"width": width, "height": max(900, min(height, MAX_SHOT_HEIGHT))})
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(shot))
    finally:
        page.close()

    shown = problems[:MAX_LISTED]
    if len(problems) > MAX_LISTED:
        shown.append(f"... and {len(problems) - MAX_LISTED} more")
    assert not problems, f"{url} has {len(problems)} problem(s):\n  " + "\n  ".join(shown)
