"""What a reader sees: the pages rendered by a real browser (headless Chromium) at 1440×900."""

import html
import json
import re
import shutil
import subprocess

import pytest
from test_reports import _kpi_report

from analysis_kit.reports import write_index

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="needs Chromium (scripts/test.sh installs it)"
)

#: Run in the page once it has loaded: where the blocks are, and what text is visible.
_MEASURE = """<script>
window.addEventListener("load", () => {
  const out = {width: document.documentElement.scrollWidth, text: document.body.innerText};
  for (const id of ["kpis", "story", "actions", "pages"]) {
    const element = document.getElementById(id);
    if (element) { const box = element.getBoundingClientRect(); out[id] = [box.top, box.bottom]; }
  }
  const heading = document.querySelector("h1");
  if (heading) { out.h1 = [heading.getBoundingClientRect().top, heading.innerText]; }
  document.body.setAttribute("data-seen", JSON.stringify(out));
});
</script>"""


def _seen(page, tmp_path, size=(1440, 900)):
    """Render ``page`` in Chromium at ``size`` and return what its script measured."""
    copy = tmp_path / f"seen_{page.name}"
    text = page.read_text(encoding="utf-8")
    copy.write_text(text.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    # the copy sits in another folder: its links are not followed, only the page is drawn
    done = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        + [f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=5000"]
        + ["--dump-dom", copy.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = re.search(r'data-seen="([^"]*)"', done.stdout)
    assert found, done.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cards_and_actions_fit_the_first_screen(kpi_tables, tmp_path, lang):
    folder = _kpi_report(tmp_path / "2024-06-30", kpi_tables)
    seen = _seen(write_index(folder, lang=lang), tmp_path)
    assert seen["kpis"][1] <= 900 and seen["actions"][1] <= 900, seen
    assert seen["width"] <= 1440  # nothing runs off to the right
    card, value = ("本月销售额", "120.0 万元") if lang == "zh" else ("Revenue this month", "¥1.20M")
    assert card in seen["text"] and value in seen["text"]
    # a name holding markup is shown as typed, not drawn as markup
    assert "<b>星辰</b>科技" in seen["text"]


def test_a_real_report_reads_in_a_browser(cleaned_sample, tmp_path):
    index = _seen(cleaned_sample.out / "index.html", tmp_path)
    assert index["kpis"][1] <= 900 and index["actions"][1] <= 900, index
    assert "Revenue this month" in index["text"]
    page = _seen(cleaned_sample.out / "01_data_cleaning.html", tmp_path)
    assert page["h1"][0] < 900 and page["h1"][1].strip()  # the page starts with its title
    assert len(page["text"]) > 1000 and "Traceback" not in page["text"]
