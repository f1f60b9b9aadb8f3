"""report.html as a person sees it: rendered by headless Chromium, offline, with readable charts.

The page comes from a real default demo run (``tests.demo_runs``). Chromium dumps the DOM it
built and takes a screenshot; the DOM must hold every chart with both axes titled (units in
parentheses) and its expected series, and the screenshot must show each series' bars in their
colour. The page loads nothing from the network (the test machine has none).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bms_local.report import SERIES_COLOURS
from tests.demo_runs import DemoRun

pytestmark = [pytest.mark.chromium, pytest.mark.slow, pytest.mark.eventhubs, pytest.mark.azurite]

EXPECTED_SERIES = {
    "sent": ["bookings", "payments", "others' payments"],
    "delay": ["payment attempts"],
    "join-rate": ["join rate"],
    "latency": ["latency"],
}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = shutil.which("chromium")
    assert command, "chromium is not installed ('scripts/setup test' installs it)"
    return subprocess.run(
        [command, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class _Charts(HTMLParser):
    """Per chart (``data-chart``): its axis labels and its series names."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, list[str]]] = {}
        self._chart: str | None = None
        self._axis: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and a.get("data-chart"):
            self._chart = str(a["data-chart"])
            self.charts[self._chart] = {"x": [], "y": [], "series": []}
        elif self._chart and tag == "g" and a.get("data-series"):
            self.charts[self._chart]["series"].append(str(a["data-series"]))
        elif self._chart and tag == "text" and "axis-label" in (a.get("class") or ""):
            self._axis = (a.get("class") or "").split()[-1]

    def handle_data(self, data: str) -> None:
        if self._chart and self._axis:
            self.charts[self._chart][self._axis].append(data)
            self._axis = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None


@pytest.fixture(scope="module")
def page(default_demo_runs: tuple[DemoRun, DemoRun]) -> Path:
    run = default_demo_runs[0]
    assert run.returncode == 0, run.stderr[-2000:]
    return run.report_dir / "report.html"


def test_the_page_needs_no_network(page: Path) -> None:
    text = page.read_text()
    assert not re.search(r"<script|<link|<img|<iframe|src=|@import|url\(", text)
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text)


def test_chromium_builds_every_chart_with_titled_axes_and_its_series(
    page: Path, tmp_path: Path
) -> None:
    result = _chromium(page, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    parser = _Charts()
    parser.feed(result.stdout)
    assert list(parser.charts) == list(EXPECTED_SERIES)
    for key, chart in parser.charts.items():
        assert chart["series"] == EXPECTED_SERIES[key], key
        for axis in ("x", "y"):
            (label,) = chart[axis]
            assert re.search(r"\((s|min|%|count|per min)\)$", label), (key, axis, label)


def test_the_screenshot_shows_each_series_in_its_colour(page: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "report.png"
    result = _chromium(
        page, tmp_path / "profile", "--window-size=1000,1500", f"--screenshot={shot}"
    )
    assert shot.is_file(), result.stderr[-2000:]
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None
    pixels = {colour: count for count, colour in colours}
    for series in (name for names in EXPECTED_SERIES.values() for name in names):
        rgb = tuple(int(SERIES_COLOURS[series][i : i + 2], 16) for i in (1, 3, 5))
        # more than the 10 x 10 legend swatch: the bars themselves were painted
        assert pixels.get(rgb, 0) > 300, (series, pixels.get(rgb, 0))
