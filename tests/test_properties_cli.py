"""Properties of the command line: any argument list ends in exit 0 or 2, never a traceback.

For every subcommand, hypothesis builds argument lists from its flags: values of each
flag's type, out of range, of the wrong type, missing, repeated, unknown flags and
conflicting ones; positionals that name real and unknown models, recipes, weights and
pictures. ``mnistlite.cli.main(argv)`` runs in-process and must exit 0 or 2 with its
errors on stderr as ``mnistlite CMD: error: ...`` lines (argparse's usage lines before
its own), no Python warning, and no exception of any other kind.

Nothing long runs: ``--data`` points at an empty folder (so training and evaluation stop
at the data check), downloads fail at once (torchvision's MNIST is replaced), and the
three places where work would begin after every check has passed (the sweep's study,
an export, the server's loop) are replaced by stand-ins that record the start.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from _helpers import run_cli
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from mnistlite import models, recipes

#: A line of stderr the command may print: an error or warning line, or argparse's usage.
ALLOWED_LINE = re.compile(r"^(mnistlite( [a-z]+)?: (error|warning): .+|usage: .*|\s+.*|)$")


class Started(Exception):
    """Raised by the stand-ins where real work (a study, an export) would begin."""


def files(folder: Path) -> dict[str, str]:
    """The files and folders the placeholders of argument lists name."""
    digit = np.full((120, 90), 250, dtype=np.uint8)
    digit[20:100, 40:52] = 10
    Image.fromarray(digit).save(folder / "digit.png")
    gif = io.BytesIO()
    Image.new("L", (40, 40), 255).save(gif, format="GIF")
    bomb = bytearray(gif.getvalue())
    at = bomb.index(b",")
    bomb[at + 5 : at + 9] = struct.pack("<HH", 65535, 65200)
    (folder / "bomb.gif").write_bytes(bytes(bomb))
    (folder / "garbage.pt").write_bytes(b"not a torch file")
    (folder / "empty").mkdir()
    (folder / "empty.png").write_bytes(b"")
    import torch

    torch.save(models.get_model("lite600").state_dict(), folder / "lite600.pt")
    return {
        "{digit}": str(folder / "digit.png"),
        "{bomb}": str(folder / "bomb.gif"),
        "{garbage}": str(folder / "garbage.pt"),
        "{missing}": str(folder / "missing.pt"),
        "{empty_dir}": str(folder / "empty"),
        "{empty_file}": str(folder / "empty.png"),
        "{lite600}": str(folder / "lite600.pt"),
        "{out}": str(folder / "out"),
        "{out_file}": str(folder / "out" / "model.onnx"),
        "{here}": str(folder / "model.pt2"),
        "{sqlite}": f"sqlite:///{folder / 'study.db'}",
        "{journal}": f"journal:///{folder / 'study.log'}",
    }


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """A folder to run in, with the stand-ins in place for the module's tests."""
    import torchvision.datasets
    import uvicorn

    from mnistlite import _studies, export

    folder = tmp_path_factory.mktemp("cli")

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: no network")

    def study(*args, **kwargs):
        raise Started("sweep")

    def exported(*args, **kwargs):
        raise Started("export")

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # default outputs (runs/, the sweep's sqlite file) land here
        patch.setattr(torchvision.datasets, "MNIST", offline)
        patch.setattr(_studies, "open_study", study)
        patch.setattr(export, "export_model", exported)
        patch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
        yield files(folder)


def ints(low: int, high: int) -> st.SearchStrategy[str]:
    """An int flag's values: in range, out of range, and of the wrong type."""
    return (
        st.integers(low, high).map(str)
        | st.integers(-(2**70), low - 1).map(str)
        | st.sampled_from(["x", "1.5", "", "1e3", " 2", "0x10", "nan", "٣", "--1"])
    )


floats = st.floats(1e-4, 1).map(repr) | st.sampled_from(
    ["0", "-1", "inf", "nan", "-inf", "1e400", "x", "", "1,5"]
)
seeds = ints(0, 5) | st.sampled_from([str(2**64), str(-(2**63) - 1), str(2**64 - 1)])
models_ = st.sampled_from([*models.list_models(), "nope", "", "STEP7", "step7 "])
recipe_names = st.sampled_from([*recipes.list_recipes(), "nope", "", "Step7"])
devices = st.sampled_from(["auto", "cpu", "cuda", "cuda:1", "mps", "gpu", "cpu:0", "", "meta"])
weights = st.sampled_from(
    ["DEFAULT", "MNIST_V1", "NOPE", "{missing}", "{garbage}", "{lite600}", "{empty_dir}"]
)
pictures = st.sampled_from(
    ["{digit}", "{bomb}", "{garbage}", "{missing}", "{empty_dir}", "{empty_file}"]
)
data_roots = st.sampled_from(["{empty_dir}", "{missing}", "{digit}"])
switch = None  # a flag without a value

#: Each subcommand: its positionals (strategies, in order) and its flags.
COMMANDS: dict[str, tuple[list, dict[str, st.SearchStrategy | None]]] = {
    "train": (
        [recipe_names],
        {
            "--epochs": ints(1, 3),
            "--data": data_roots,
            "--download": switch,
            "--out": st.sampled_from(["{out}", "{digit}", "{empty_dir}"]),
            "--seed": seeds,
            "--seeds": st.lists(seeds, max_size=3).map(" ".join),
            "--resume": switch,
            "--device": devices,
            "--batch-size": ints(1, 256),
            "--lr": floats,
            "--ema": floats,
            "--limit-train": ints(1, 100),
            "--val-split": ints(1, 70_000),
            "--plot": switch,
            "--no-progress": switch,
            "--channels-last": switch,
            "--no-channels-last": switch,
            "--compile": switch,
            "--no-compile": switch,
            "--bf16": switch,
            "--no-bf16": switch,
            "--stack-mode": st.sampled_from(["auto", "grouped", "vmap", "loop", "nope"]),
            "--cuda-graphs": switch,
            "--no-cuda-graphs": switch,
        },
    ),
    "list": ([], {}),
    "summary": ([models_], {"--json": switch}),
    "eval": (
        [models_],
        {
            "--data": data_roots,
            "--download": switch,
            "--weights": weights,
            "--device": devices,
            "--json": switch,
        },
    ),
    "export": (
        [models_],
        {
            "--weights": weights,
            "--format": st.sampled_from(["onnx", "pt2", "tflite", ""]),
            "--int8": switch,
            "--data": data_roots,
            "--out": st.sampled_from(["{out_file}", "{here}", "{empty_dir}", "/nonexistent/x"]),
        },
    ),
    "predict": (
        [models_, pictures, pictures],
        {"--weights": weights, "--json": switch, "--device": devices},
    ),
    "serve": (
        [models_],
        {
            "--weights": weights,
            "--host": st.sampled_from(
                ["127.0.0.1", "::1", "localhost", "0.0.0.0", "999.1.1.1", "", "a b"]
            ),
            "--port": st.just("0") | ints(65536, 70000) | st.sampled_from(["-1", "x", "80.5"]),
        },
    ),
    "sweep": (
        [],
        {
            "--budget": ints(300, 20_000),
            "--trials": ints(1, 5),
            "--epochs": ints(1, 3),
            "--storage": st.sampled_from(
                ["{sqlite}", "{journal}", "nope", "", "postgresql+psycopg2://u:p@127.0.0.1:1/db"]
            ),
            "--study-name": st.sampled_from(["s", "", "x" * 300]),
            "--data": data_roots,
            "--download": switch,
            "--limit-train": ints(1, 100),
            "--val-size": ints(1, 70_000),
            "--seed": seeds,
            "--device": devices,
            "--workers": ints(1, 4),
            "--threads": ints(1, 4),
            "--heartbeat": ints(1, 60),
            "--grace": ints(1, 600),
            "--show": switch,
            "--plot": st.sampled_from(["{empty_dir}", "{out}", "{digit}"]),
            "--top": ints(1, 10),
            "--no-progress": switch,
        },
    ),
}


#: Flags a command needs, added (with a drawn value) three times in four.
REQUIRED = {"export": ["--format", "--out"], "sweep": ["--budget"]}


@st.composite
def argument_lists(draw, command: str) -> list[str]:
    """A subcommand with some of its positionals and flags, in any order, maybe broken."""
    positionals, flags = COMMANDS[command]
    argv = [command]
    keep = draw(st.integers(0, len(positionals))) if draw(st.booleans()) else len(positionals)
    argv += [draw(strategy) for strategy in positionals[:keep]]
    chosen = draw(st.lists(st.sampled_from(sorted(flags)), max_size=6)) if flags else []
    chosen += [flag for flag in REQUIRED.get(command, []) if draw(st.integers(0, 3))]
    for flag in chosen:  # a flag drawn twice is given twice
        value = flags[flag]
        argv += [flag] if value is None else [flag, *draw(value).split(" ")]
    if draw(st.integers(0, 9)) == 0:
        argv.insert(draw(st.integers(1, len(argv))), draw(st.sampled_from(["--nope", "-x", "--"])))
    return [a for a in argv if a != ""] if draw(st.booleans()) else argv


def run(argv: list[str], places: dict[str, str]) -> tuple[int | str, str, str]:
    """Run the command; (exit code or "started", stdout, stderr). No warning may escape."""
    argv = [places.get(a, a) for a in argv]
    for name, path in places.items():
        argv = [a.replace(name, path) for a in argv]
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            code, out, err = run_cli(*argv)
        except Started as started:
            return "started", "", str(started)
    assert not warned, (argv, [f"{w.category.__name__}: {w.message}" for w in warned])
    return code, out, err


def check(argv: list[str], places: dict[str, str]) -> None:
    code, out, err = run(argv, places)
    if code == "started":
        return
    assert code in (0, 2), (argv, code, err)
    lines = err.splitlines()
    assert all(ALLOWED_LINE.match(line) for line in lines), (argv, err)
    errors = [line for line in lines if ": error: " in line]
    if code == 2:
        assert errors, (argv, err)
    if code == 2 and not argv[0] == "predict":
        assert len(errors) == 1, (argv, err)  # one line; predict: one per bad picture


@pytest.mark.parametrize("command", sorted(COMMANDS))
@given(data=st.data())
def test_any_argument_list_exits_0_or_2_without_a_traceback(places, command, data) -> None:
    check(data.draw(argument_lists(command), label="argv"), places)


@given(argv=st.sampled_from([["predict", "lite1k", "{bomb}"], ["predict", "fast", "{digit}"]]))
@example(argv=["predict", "lite1k", "{bomb}"])  # was a traceback: DecompressionBombError
@example(argv=["predict", "step7", "{digit}", "{bomb}", "{garbage}"])  # two lines, both bad
@example(argv=["predict", "step2", "{digit}", "--device", "meta"])  # was a torch RuntimeError
@example(argv=["eval", "step7", "--device", "meta", "--data", "{empty_dir}"])
@example(argv=["serve", "lite1k", "--host", "0.0.0.0", "--port", "0"])  # its warning line
@example(argv=["train", "fast", "--seeds", "--seed", "3", "--data", "{empty_dir}"])
@example(argv=["sweep", "--budget", "900", "--storage", "postgresql+psycopg2://u:p@127.0.0.1:1/d"])
def test_pinned_argument_lists(places, argv) -> None:
    check(argv, places)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_is_generated(command) -> None:
    """The generator covers each subcommand (a new one must be added to COMMANDS)."""
    from mnistlite.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert set(subparsers.choices) == set(COMMANDS)
    flags = {
        option
        for action in subparsers.choices[command]._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    assert flags == set(COMMANDS[command][1]), command
