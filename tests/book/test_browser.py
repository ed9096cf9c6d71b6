"""A real browser loads every chapter of the built book: figures render with non-zero size, no errors."""

import functools
import http.server
import shutil
import threading

import pytest

from fwilab.book import toc_documents

pytestmark = [pytest.mark.book, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def served(smoke_book):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(smoke_book["html"]))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("headless Chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,1600"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield drv
    drv.quit()


@pytest.mark.parametrize("doc", toc_documents())
def test_page_renders_without_errors(served, browser, doc):
    browser.get(f"{served}/{doc}.html")
    state = browser.execute_script("return document.readyState")
    assert state == "complete"
    sizes = browser.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth, "
        "i.getBoundingClientRect().width, i.getBoundingClientRect().height])")
    for src, complete, natural, w, h in sizes:
        assert complete and natural > 0, f"{doc}: image {src} did not load"
        assert w > 0 and h > 0, f"{doc}: image {src} has zero size on the page"
    if doc.endswith(("data",)):
        assert len(sizes) >= 3
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"{doc}: browser console errors: {errors}"


#: chapters laid out for the reader (issue "The house and the reader"): no code on the page unless folded,
#: figures at their natural size (so their 10 pt text stays 10 pt), no table cell wrapping a number
READER_PAGES = ("book/data", "book/baselines", "book/linearity", "book/spectral", "book/routing", "book/claims")

_LAYOUT_JS = """
const visible = el => !!(el.offsetParent) && el.getBoundingClientRect().height > 0;
const inputs = Array.from(document.querySelectorAll('div.cell_input, div.cell > div.highlight'))
    .filter(el => visible(el) && !el.closest('details:not([open])'));
const images = Array.from(document.querySelectorAll('div.cell_output img')).map(i =>
    [i.getAttribute('src') || '', i.naturalWidth, i.getBoundingClientRect().width]);
const wrapped = [];
for (const td of document.querySelectorAll('div.cell_output table td, div.cell_output table th')) {
    const text = td.textContent.trim();
    // a number, or "mean ± std", with at most a unit or "(1 seed)": the cells that must not wrap
    if (!/\\d/.test(text) || text.length > 40 || text.split(/\\s+/).length > 5) continue;
    const range = document.createRange();
    range.selectNodeContents(td);
    const tops = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
    if (tops.size > 1) wrapped.push(text);
}
return {inputs: inputs.length, images: images, wrapped: wrapped};
"""


@pytest.mark.parametrize("doc", READER_PAGES)
def test_reader_pages_show_no_plumbing_full_size_figures_and_unwrapped_numbers(served, browser, doc):
    browser.get(f"{served}/{doc}.html")
    layout = browser.execute_script(_LAYOUT_JS)
    assert layout["inputs"] == 0, f"{doc}: {layout['inputs']} code cell(s) visible on the page (remove or fold them)"
    assert layout["images"], f"{doc}: no figure"
    for src, natural, shown in layout["images"]:
        # 10 pt text at dpi 100 stays 10 pt only if the page shows the figure at its natural size
        assert shown >= 0.98 * natural, (f"{doc}: figure {src[:40]} is shrunk to {shown:.0f} of its {natural} px "
                                         "(its text falls below 10 pt): make it narrower")
    assert not layout["wrapped"], f"{doc}: table cells wrap a number over lines: {layout['wrapped'][:5]}"
