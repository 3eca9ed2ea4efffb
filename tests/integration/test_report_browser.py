"""The HTML incident report in a real browser: Debian's Chromium, headless, draws every step of the run.

The unit tests read the markup; this one asks the browser's layout where each bar landed. A copy of the
page gets a test-only script that measures the bars and the charts after load and writes the figures
into <pre id="result">, which --dump-dom hands back. The page itself, without that script, is
screenshotted and the PNG decoded to check that the bars were painted in their colours.
"""

from __future__ import annotations

import datetime
import html
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
TIMEOUT = 120
XSS = "<script>alert(1)</script>"
START = datetime.datetime(2026, 11, 29, 4, 0, tzinfo=datetime.timezone.utc)
# The bar fills of report_html's stylesheet, as the screenshot must show them.
OK_GREEN = (0x2E, 0x9D, 0x57)
FAILED_RED = (0xD0, 0x38, 0x2F)


def _collections_root():
    """As tests/unit/conftest.py: the checkout importable as ansible_collections.runbook.rollback."""
    root = REPO_ROOT / ".collections"
    if (root / "ansible_collections" / "runbook" / "rollback" / "plugins").is_dir():
        return root
    tmp = Path(tempfile.mkdtemp(prefix="runbook-collections-"))
    ns = tmp / "ansible_collections" / "runbook"
    ns.mkdir(parents=True)
    (ns / "rollback").symlink_to(REPO_ROOT)
    return tmp


if str(_collections_root()) not in sys.path:
    sys.path.insert(0, str(_collections_root()))

from ansible_collections.runbook.rollback.plugins.plugin_utils import report as report_data
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_html import render_html

MEASURE = """<script>
window.addEventListener("load", function () {
  function box(el) {
    var r = el.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height};
  }
  function one(selector) {
    var el = document.querySelector(selector);
    if (!el) { return null; }
    var found = {box: box(el)};
    if (el.points) { found.points = el.points.numberOfItems; found.length = el.getTotalLength(); }
    return found;
  }
  var result = {
    timeline: one("#timeline-chart"),
    steps: Array.prototype.map.call(document.querySelectorAll("[data-step]"), function (g) {
      var bar = g.querySelector(".step-bar");
      return {name: g.getAttribute("data-step"), over: g.classList.contains("over-budget"),
              bar: bar ? box(bar) : null, fill: bar ? getComputedStyle(bar).fill : null};
    }),
    metrics: one("#metrics-chart"),
    errorRate: one("#metrics-chart .series-error-rate"),
    errorRateLines: Array.prototype.map.call(document.querySelectorAll("#metrics-chart .series-error-rate"),
                                             function (el) { return el.points.numberOfItems; }),
    p95: one("#metrics-chart .series-p95"),
    rollback: one("#metrics-chart .marker-rollback"),
    restored: one("#metrics-chart .marker-restored"),
    scripts: document.querySelectorAll("script").length
  };
  var pre = document.createElement("pre");
  pre.id = "result";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>
"""


def iso(seconds):
    return (START + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4] + "Z"


def step(name, offset, duration, status="ok", high=None, over=False):
    return {
        "name": name,
        "runbook_step": "Step: %s" % name,
        "started_at": iso(offset),
        "ended_at": iso(offset + duration),
        "offset": offset,
        "duration": duration,
        "status": status,
        "budget": None if high is None else {"low": high, "high": high},
        "over_budget": over,
        "hosts": ["staging-local"],
    }


def procedure_a_ok():
    return {
        "schema": 1,
        "incident": "INC-42",
        "procedure": "A",
        "procedure_title": "Code rollback",
        "playbook": "procedure_a.yml",
        "status": "ok",
        "reason": "",
        "from_version": "v1.2.4",
        "to_version": "v1.2.3",
        "run": {"id": "r-1", "by": "alice", "target": "staging-local", "controller": "ctl-1", "awx_job_id": None},
        "started_at": iso(0),
        "ended_at": iso(312.4),
        "duration": 312.4,
        "budget": {"low": 300, "high": 600},
        "steps": [
            step("preflight", 0.0, 6.2, high=60),
            step("backup", 6.2, 0.0, high=120),
            step("fallback", 6.2, 0.0, status="skipped"),
            step("stop", 12.3, 8.1, high=30),
            step("checkout", 20.4, 4.0, high=60),
            step("staged_restart", 24.4, 248.0, high=180, over=True),
            step("verify", 272.4, 40.0, high=600),
        ],
        "runbook_steps": [
            {
                "label": "Step 4: restart",
                "steps": ["staged_restart"],
                "duration": 248.0,
                "budget": {"low": 180, "high": 180},
                "verdict": "over",
            },
        ],
        "downtime": {"seconds": 41.2, "from": iso(12.3), "to": iso(53.5), "ongoing": False, "basis": "probe"},
        "decision": None,
        "metrics": {"samples": [], "rollback_at": None, "restored_at": None},
        "backups": [{"role": "emergency backup", "path": "/var/backups/INC-42.dump", "at": iso(6.2)}],
        "checklists": [
            {
                "name": "Pre-rollback",
                "items": [{"item": "Team notified", "state": "done", "at": iso(1), "by": "automation", "note": ""}],
            }
        ],
        "notifications": [{"channel": "slack", "event": "started", "ok": True, "status": 200, "error": ""}],
        "verification": {"passed": True, "problems": []},
        "follow_ups": ["Write the post-mortem"],
    }


def failed_early():
    return {
        "incident": "INC-43",
        "procedure": "B",
        "status": "failed",
        "reason": "preflight refused: " + XSS,
        "started_at": iso(0),
        "steps": [
            {"name": "preflight", "offset": 0.0, "duration": 3.5, "status": "failed", "budget": None},
            {"name": XSS, "offset": None, "duration": None, "status": "skipped", "budget": None},
        ],
        "decision": None,
        "metrics": None,
    }


def with_metrics():
    report = procedure_a_ok()
    start = START.timestamp()
    samples = []
    for i in range(-12, 24):
        broken = i < 4
        samples.append(
            {"ts": start + i * 15, "error_rate": 40.7 if broken else 0.4, "p95_ms": 1520.0 if broken else 152.9}
        )
    del samples[3]["p95_ms"]
    report["metrics"] = {"samples": samples, "rollback_at": start + 12.3, "restored_at": start + 53.5}
    return report


def from_the_pipeline():
    """A report as the callback makes it: build_report on a Procedure B timeline and its record."""
    names = ["assess", "procedure_b", "restore_select", "preflight", "restore_check", "notify", "backup",
             "restore_side", "restore_swap", "checkout", "restore_migrations", "staged_restart", "verify",
             "restore_reconcile", "history", "report"]  # fmt: skip
    steps, offset = [], 0.0
    for i, name in enumerate(names):
        took = {"notify": 0.0, "verify": 200.0}.get(name, 5.0 + 3 * i)  # verify: over its 2 min
        steps.append({"name": name, "started_at": iso(offset), "ended_at": iso(offset + took), "duration": took,
                      "status": "ok", "hosts": ["staging-local"], "rescued": 0})  # fmt: skip
        offset += took
    steps[1].update(started_at=iso(0), ended_at=iso(offset), duration=offset)
    timeline = {"playbook": "auto.yml", "started_at": iso(0), "ended_at": iso(offset), "duration": offset,
                "status": "ok", "steps": steps}  # fmt: skip
    start = START.timestamp()
    record = {
        "incident": "drill", "procedure": "B", "result": "ok", "from_version": "v1.3.0", "to_version": "v1.2.3",
        "decision": {"decided_at": iso(-30), "decision": "rollback_now", "priority": "critical", "summary": XSS,
                     "inputs": {"samples": [{"ts": start - 60 + i, "error_rate": 30.0 + i, "p95_ms": 900.0 - i}
                                            for i in range(30)]}},
        "samples": [{"ts": start + offset - 20 + i, "error_rate": 0.2, "p95_ms": 120.0} for i in range(15)],
    }  # fmt: skip
    return report_data.build_report(record, timeline, controller="ctl")


@pytest.mark.parametrize("make", [from_the_pipeline])
def test_a_report_built_by_the_pipeline_draws_every_step_and_both_series(chromium, tmp_path, make):
    report = make()
    result = measure(chromium, tmp_path, report)
    assert [s["name"] for s in result["steps"]] == [s["name"] for s in report["steps"]]
    chart = result["timeline"]["box"]
    assert all(found["bar"]["width"] > 0 and inside(found["bar"], chart) for found in result["steps"])
    assert [found["name"] for found in result["steps"] if found["over"]] == ["verify"]
    for series in ("errorRate", "p95", "rollback", "restored"):
        assert result[series] is not None, series
    # The 30 samples of the decision and the 15 after the rollback: two lines, none drawn across the rollback.
    assert result["errorRateLines"] == [30, 15] and result["scripts"] == 1


@pytest.fixture(scope="module", autouse=True)
def docker_engine():
    """Overrides the directory's Docker check: this module runs a browser, not the staging stack."""


@pytest.fixture(scope="module")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s is missing: run `make setup` (scripts/setup.sh installs Debian's chromium; CI does)" % CHROMIUM)
    return CHROMIUM


def run_chromium(chromium, tmp_path, *args):
    """One headless Chromium run with its own profile, killed with its children if it hangs."""
    profile = tmp_path / "chromium-profile"
    argv = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--hide-scrollbars",
        "--user-data-dir=%s" % profile,
        "--window-size=1280,2400",
        *args,
    ]
    env = dict(os.environ, HOME=str(tmp_path))
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("chromium did not finish within %d s: %s" % (TIMEOUT, " ".join(argv)))
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert proc.returncode == 0, "chromium exited %d:\n%s" % (proc.returncode, err[-2000:])
    return out


def measure(chromium, tmp_path, report):
    document = render_html(report)
    assert "</body>" in document
    page = tmp_path / "measured.html"
    page.write_text(document.replace("</body>", MEASURE + "</body>", 1), encoding="utf-8")
    dom = run_chromium(chromium, tmp_path, "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, "no measurement in the dumped DOM (did the page load?):\n%s" % dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


def inside(inner, outer, slack=0.5):
    return (
        inner["left"] >= outer["left"] - slack
        and inner["right"] <= outer["right"] + slack
        and inner["top"] >= outer["top"] - slack
        and inner["bottom"] <= outer["bottom"] + slack
    )


@pytest.mark.parametrize("make", [procedure_a_ok, failed_early, with_metrics])
def test_every_step_is_laid_out_inside_the_timeline(chromium, tmp_path, make):
    report = make()
    result = measure(chromium, tmp_path, report)
    # The only script on the page is the measuring one: a step name like <script> stayed text.
    assert result["scripts"] == 1
    chart = result["timeline"]["box"]
    assert chart["width"] > 300 and chart["height"] > 0
    assert [s["name"] for s in result["steps"]] == [s["name"] for s in report["steps"]]
    tops = []
    for found in result["steps"]:
        bar = found["bar"]
        assert bar is not None, found["name"]
        assert bar["width"] > 0 and bar["height"] > 0, found
        assert inside(bar, chart), (found, chart)
        tops.append(bar["top"])
    assert tops == sorted(tops) and len(set(tops)) == len(tops), "one row per step, in the report's order"
    over = [s["name"] for s in result["steps"] if s["over"]]
    assert over == [s["name"] for s in report["steps"] if s.get("over_budget")]


def test_step_durations_scale_in_the_browser(chromium, tmp_path):
    result = measure(chromium, tmp_path, procedure_a_ok())
    bars = {s["name"]: s["bar"] for s in result["steps"]}
    fills = {s["name"]: s["fill"] for s in result["steps"]}
    # 248 s against 40 s: the ratio survives the browser's scaling of the SVG.
    assert bars["staged_restart"]["width"] / bars["verify"]["width"] == pytest.approx(248 / 40, rel=0.05)
    assert bars["stop"]["left"] < bars["staged_restart"]["left"] < bars["verify"]["left"]
    assert fills["verify"] == "rgb(46, 157, 87)"
    assert fills["fallback"] != fills["verify"]


def test_metrics_chart_has_both_series_and_markers(chromium, tmp_path):
    report = with_metrics()
    result = measure(chromium, tmp_path, report)
    chart = result["metrics"]["box"]
    assert chart["width"] > 300 and chart["height"] > 100
    samples = len(report["metrics"]["samples"])
    assert result["errorRate"]["points"] == samples
    assert result["p95"]["points"] == samples - 1
    for series in (result["errorRate"], result["p95"]):
        assert series["length"] > 0
        assert series["box"]["width"] > 0 and inside(series["box"], chart)
    rollback, restored = result["rollback"]["box"], result["restored"]["box"]
    assert inside(rollback, chart) and inside(restored, chart)
    assert rollback["left"] < restored["left"]


def test_no_metrics_chart_without_samples(chromium, tmp_path):
    result = measure(chromium, tmp_path, procedure_a_ok())
    assert result["metrics"] is None and result["errorRate"] is None


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit PNG, decoded with zlib alone."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour in (2, 6), header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append([tuple(line[x : x + 3]) for x in range(0, stride, bpp)])
        previous = line
    return width, height, rows


@pytest.mark.parametrize(("make", "colour"), [(procedure_a_ok, OK_GREEN), (failed_early, FAILED_RED)])
def test_screenshot_of_the_page_shows_the_bars(chromium, tmp_path, make, colour):
    page = tmp_path / "report.html"
    page.write_text(render_html(make()), encoding="utf-8")
    shot = tmp_path / "report.png"
    run_chromium(chromium, tmp_path, "--screenshot=%s" % shot, page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 5000, "no screenshot, or an empty one"
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1280, 2400)
    counts = {}
    for row in rows[::2]:
        for pixel in row[::2]:
            counts[pixel] = counts.get(pixel, 0) + 1
    assert len(counts) > 20, "the page is (nearly) a single colour: %s" % sorted(counts.items())[:5]
    # The step bars were painted: a solid block of the status colour, not only antialiased edges.
    assert counts.get(colour, 0) > 50, "no %s bar in the screenshot" % (colour,)
