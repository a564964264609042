"""The HTML report in a real browser: headless Chromium renders the charts and the page."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_htmlreport import LANGS, LEXICAL_MODELS, REFUSAL_LANGS, VENDORS, parse, sample_report

from pytest_modelprov.reports import htmlreport

# read at import: the autouse clean_env fixture removes CI from the environment of each test
IN_CI = bool(os.environ.get("CI"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _png_pixels(data: bytes) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium writes) with the stdlib
    and numpy: rows x columns x channels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour in (2, 6), header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.int64)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, np.uint8, stride, start + 1).astype(np.int64)
        if kind == 1:  # Sub: a running sum per channel
            line = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) & 255
        elif kind == 2:  # Up
            line = (line + prev) & 255
        elif kind in (3, 4):  # Average, Paeth: each byte depends on the one to its left
            cur, up = line.tolist(), prev.tolist()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = up[i]
                if kind == 3:
                    cur[i] = (cur[i] + (a + b) // 2) & 255
                else:
                    c = up[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                    cur[i] = (cur[i] + pred) & 255
            line = np.array(cur, np.int64)
        out[y] = line
        prev = line
    return out.reshape(height, width, bpp)


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("chromium is not installed, and CI must check the HTML report in it")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    return CHROMIUM


def test_report_renders_in_chromium_with_its_charts(chromium: str, tmp_path: Path):
    page = htmlreport.write_html(sample_report(), tmp_path / "report.html")
    url = page.resolve().as_uri()

    dom = _run(["--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    doc = parse(dom.stdout)
    # the browser built the charts as SVG elements, with the expected number of marks
    assert doc.count("svg", "chart") >= 6
    assert doc.count("svg", "heatmap") == 2 and doc.count("svg", "dendrogram") == 1
    assert doc.count("rect", "cell") == len(VENDORS) * len(LANGS) + len(LEXICAL_MODELS) ** 2
    assert doc.count("rect", "baseline") == len(REFUSAL_LANGS)
    assert doc.count("path", "branch") == len(LEXICAL_MODELS)
    assert doc.count("rect", "failed") == 1

    shot = tmp_path / "report.png"
    result = _run([f"--screenshot={shot}", "--window-size=1280,2400", url], tmp_path)
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    pixels = _png_pixels(shot.read_bytes())
    assert pixels.shape[:2] == (2400, 1280)
    rgb = pixels[..., :3].reshape(-1, 3).astype(np.uint32)
    colours = np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2])
    # a blank or unstyled page has a handful of colours; charts, text and the palette many
    assert colours.size > 200, colours.size
    # the failure banner's vermillion and the chart blue both reached the screen
    near = lambda r, g, b: (np.abs(rgb.astype(int) - (r, g, b)).sum(1) < 30).any()  # noqa: E731
    assert near(0xD5, 0x5E, 0x00) and near(0x00, 0x72, 0xB2)


def test_answers_under_failed_checks_and_the_answer_browser_filter_in_chromium(
    chromium: str, pytester: pytest.Pytester, env, monkeypatch, tmp_path: Path
):
    """A model that claims ChatGPT in Russian and Japanese: its answers are drawn under the
    failed checks, and the answer browser filters by language (with JavaScript, from the
    page's fragment) or shows every answer (without)."""
    from test_report_answers import CLAIM_SUITE, CLAIMS_JA, CLAIMS_RU, _claiming_model

    _claiming_model(env.server)
    monkeypatch.setenv("MODELPROV_MODEL", "two-faced")
    pytester.makepyfile(test_claims=CLAIM_SUITE)
    page = tmp_path / "report.html"
    pytester.runpytest(f"--modelprov-report-html={page}").assert_outcomes(failed=2)
    url = page.resolve().as_uri()

    def rows(doc: Any) -> list[dict[str, str]]:
        return [a for t, a in doc.elements if t == "tr" and "data-lang" in a]

    dom = _run(["--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    doc = parse(dom.stdout)
    text = " ".join(doc.text)
    assert CLAIMS_RU in text and CLAIMS_JA in text
    everything = rows(doc)
    langs = [a["data-lang"] for a in everything]
    assert set(langs) == {"ru", "ja"} and not any("hidden" in a for a in everything)
    # the script ran (the CSP hash matches it): the filters are shown, with a count
    form = next(a for t, a in doc.elements if a.get("id") == "answer-filters")
    assert "hidden" not in form
    assert f"{len(everything)} of {len(everything)} answers" in text

    filtered = _run(["--dump-dom", url + "#filter-lang=ja"], tmp_path)
    shown = [a for a in rows(parse(filtered.stdout)) if "hidden" not in a]
    assert shown and {a["data-lang"] for a in shown} == {"ja"}
    assert len(shown) == langs.count("ja") < len(everything)
    assert f"{len(shown)} of {len(everything)} answers" in " ".join(parse(filtered.stdout).text)

    # without JavaScript (the file as written: dump-dom itself needs scripts) every answer
    # is listed and the filters stay out of the way
    doc = parse(page.read_text(encoding="utf-8"))
    assert len(rows(doc)) == len(everything) and not any("hidden" in a for a in rows(doc))
    form = next(a for t, a in doc.elements if a.get("id") == "answer-filters")
    assert "hidden" in form

    shot = tmp_path / "answers.png"
    result = _run([f"--screenshot={shot}", "--window-size=1280,1600", url], tmp_path)
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    rgb = _png_pixels(shot.read_bytes())[..., :3].reshape(-1, 3).astype(int)
    # the deciding sentences are marked (#fff0c2) under the failed checks near the top,
    # and the failure banner's vermillion is there
    assert (np.abs(rgb - (0xFF, 0xF0, 0xC2)).sum(1) < 12).sum() > 500
    assert (np.abs(rgb - (0xD5, 0x5E, 0x00)).sum(1) < 30).any()
