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


# "seed" means a random seed only; the earlier notebooks the seven steps retrace are "the
# notebooks". These names of that source (some of them files outside the repository) must
# not come back. Written in two parts, so that a grep of this file finds nothing.
OLD_SOURCE_WORDS = re.compile(
    r"\bSEED" + r"_FACTS\b|\bseed" + r"_reference\b|\bseed" + r"_runs\b"
    r"|\bmodels/se" + r"ed\.py\b|\bseed" + r" notebooks?\b|\bseed" + r" \(published\)"
    r"|\bseed" + r"'s (?:best|published) test\b|\bgap \(best − seed" + r"\)"
)


@pytest.mark.parametrize(
    "line",
    [
        "Read each spec like the table in ``SEED" + "_FACTS.md``",
        "results/seed" + "_reference.json",
        "the se" + "ed's seed" + "_runs.json: overlay its log",
        ".. literalinclude:: ../mnistlite/models/se" + "ed.py",
        "The se" + "ed notebooks' MNIST pipeline",
        "   * - seed" + " (published)",
        "| step | best test | seed" + "'s best test | gap (best − seed" + ") |",
    ],
)
def test_old_words_for_the_notebooks_are_caught(line):
    assert OLD_SOURCE_WORDS.search(line)


@pytest.mark.parametrize(
    "line",
    [
        "mnistlite train step7 --seed 1 --seeds 1 2 3 --out runs/step7/seed-1",
        "results/frontier/lite1k/history-seed2.json",
        "the notebooks' best test, one seed's run",
        "torch.manual_seed(seed)",
    ],
)
def test_random_seed_wording_passes(line):
    assert not OLD_SOURCE_WORDS.search(line)


def test_no_file_calls_the_notebooks_the_seed_or_cites_their_files_outside_the_repository():
    """The notebooks' numbers live in results/notebook_reference.json, their layer tables
    in mnistlite/models/notebooks.py: no tracked file points elsewhere."""
    found = []
    for path in tracked_text_files():
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [
            f"{path.relative_to(ROOT)}: {line.strip()}"
            for line in text.splitlines()
            if OLD_SOURCE_WORDS.search(line)
        ]
    assert not found, "\n".join(found)
