"""The repository speaks to its users: no word of how the work was organised.

Readers have versions, dates, commands and data; numbered work sessions, waves, plans,
tickets and issue numbers mean nothing to them. This scans every tracked text file.
"""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

DIARY = re.compile(
    r"\b[Ss]essions? \d"
    r"|\b(?:this|next|last|later|earlier|previous|that|a later|an earlier) sessions?\b"
    r"|\bsession's\b"
    r"|\b[Ww]aves? \d"
    r"|\b(?:first|second|third|fourth|fifth|next|last|this|that|earlier|later) wave(?:'s)?\b"
    r"|\bwave's\b"
    r"|--plan\b|\b[Pp]lans? \d|\b_plan\d*\b"  # --plan 3, plan 15, _plan3()
    r"|\btickets?\b"
    r"|\b[Ii]ssues? #?\d|\b(?:the|this) issue(?:'s)?\b|\bissue's\b"
    r"|\bwork periods?\b"
)


def diary_lines(text: str) -> list[str]:
    """The lines of ``text`` that speak of how the work was organised."""
    return [line.strip() for line in text.splitlines() if DIARY.search(line)]


@pytest.mark.parametrize(
    "line",
    [
        # written in two parts, so that a grep of this file for the wording finds nothing
        "- Sess" + "ion 5, GPU (`--plan 3`, the first wave's teachers copied in)",
        "the 902-parameter lite1k of sess" + "ion 3",
        "its full runs trained on the CPU in a later sess" + "ion",
        "more than a session's time here",
        "python benchmarks/frontier_gpu.py --plan 16",
        "def _plan3() -> list[dict]:",
        "plans 5, 10, 11",
        "TARGETS = {  # issue 10: mean final test accuracy",
        "the iss" + "ue's suggested 99.65% was not reached",
        "see ticket 23",
        "in work period 4",
        "the second wave of runs",
    ],
)
def test_diary_wording_is_caught(line):
    assert diary_lines(line) == [line]


@pytest.mark.parametrize(
    "line",
    [
        "session = ort.InferenceSession(path)",
        '@pytest.fixture(scope="session")',
        "logits = session.run(None, {'input': images})[0]",
        "Intra-op threads of the session.",
        "We plan to export the model; the planned layout is below.",
        "a sine wave; waveform",
        "trained on 2026-11-26 with `python benchmarks/reproduce.py lite1k --seeds 1 2 3`",
        "issues are welcome on the tracker",
    ],
)
def test_ordinary_wording_passes(line):
    assert diary_lines(line) == []


def tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_tracked_files_do_not_speak_of_how_the_work_was_organised():
    """Where history matters, give a date and the command instead."""
    found = []
    for path in tracked_text_files():
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # weights, figures
        found += [f"{path.relative_to(ROOT)}: {line}" for line in diary_lines(text)]
    assert not found, "\n".join(found)
