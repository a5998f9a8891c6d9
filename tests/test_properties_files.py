"""Properties of checkpoint and weights files: a damaged file is the library's error.

A real checkpoint (:meth:`mnistlite.training.Trainer.state_dict`) and a real weights
file (a model's ``state_dict``) are written once, then truncated, bit-flipped, given
random bytes in place of a part, or replaced by random bytes. Reading each back through
:func:`mnistlite.training.load_checkpoint`, :func:`mnistlite.models.load_state_dict` and
``get_model(name, weights=PATH)`` either succeeds with the right kind of data (a flip in
the middle of a tensor's numbers leaves a valid file with other numbers) or raises
:class:`~mnistlite.errors.CheckpointError` / :class:`~mnistlite.errors.WeightsError`;
never another exception, and a pickle that would run code is never run. With the
file's SHA-256 (bundled weights), every change is refused.
"""

from __future__ import annotations

import pathlib
import warnings
import zipfile

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from mnistlite import models
from mnistlite.errors import CheckpointError, WeightsError
from mnistlite.models import load_state_dict
from mnistlite.models.weights import sha256_of
from mnistlite.training import Trainer, load_checkpoint

MODEL = "lite600"


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    """The bytes of a real weights file and a real checkpoint of a small model."""
    folder = tmp_path_factory.mktemp("files")
    model = models.get_model(MODEL)
    torch.save(model.state_dict(), folder / "model.pt")
    trainer = Trainer(model, progress=False, bf16=False)
    torch.save(trainer.state_dict(), folder / "checkpoint.pt")
    return {name: (folder / f"{name}.pt").read_bytes() for name in ("model", "checkpoint")}


@st.composite
def damages(draw):
    """A way to damage a file: truncate it, flip bits, overwrite a span, or random bytes.

    Positions are drawn as fractions of the file's length, so one plan damages any file.
    """
    how = draw(st.sampled_from(["truncate", "flip", "overwrite", "random", "header"]))
    if how == "truncate":
        keep = draw(st.floats(0, 1, exclude_max=True))
        return lambda data: data[: int(keep * len(data))]
    if how == "random":
        noise = draw(st.binary(max_size=2048))
        return lambda data: noise
    if how == "header":  # the first bytes, or the zip's central directory at the end
        at = draw(st.integers(0, 63) | st.integers(-400, -1))
        flips = [(at, draw(st.integers(1, 255)))]
    elif how == "flip":
        places = st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7))
        flips = [(at, 1 << bit) for at, bit in draw(st.lists(places, min_size=1, max_size=16))]
    else:
        at, chunk = (
            draw(st.floats(0, 1, exclude_max=True)),
            draw(st.binary(min_size=1, max_size=64)),
        )

        def overwrite(data: bytes) -> bytes:
            start = int(at * len(data))
            return data[:start] + chunk + data[start + len(chunk) :]

        return overwrite

    def flip(data: bytes) -> bytes:
        changed = bytearray(data)
        for at, mask in flips:
            changed[int(at * len(data)) if isinstance(at, float) else at] ^= mask
        return bytes(changed)

    return flip


def protocol_74(data: bytes) -> bytes:
    """The pickle's protocol byte changed: torch warned ("protocol 74"), then failed."""
    return data.replace(b"\x80\x02", b"\x80\x4a", 1)


def write(tmp_path_factory, data: bytes) -> pathlib.Path:
    path = tmp_path_factory.mktemp("damaged") / "file.pt"
    path.write_bytes(data)
    return path


@given(plan=damages())
@example(plan=protocol_74)  # its warning reached the caller before the error
def test_a_damaged_checkpoint_is_a_checkpoint_error(originals, tmp_path_factory, plan) -> None:
    path = write(tmp_path_factory, plan(originals["checkpoint"]))
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            state = load_checkpoint(path)
        except CheckpointError as err:
            assert str(path) in str(err)
        else:
            assert isinstance(state, dict) and isinstance(state["model"], dict)
    assert not warned, [str(w.message) for w in warned]  # nothing but the error


@given(source=st.sampled_from(["model", "checkpoint"]), plan=damages())
@example(source="model", plan=protocol_74)  # its warning reached the caller before the error
def test_a_damaged_weights_file_is_a_weights_error(
    originals, tmp_path_factory, source, plan
) -> None:
    path = write(tmp_path_factory, plan(originals[source]))
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            state = load_state_dict(path)
        except WeightsError as err:
            assert str(path) in str(err)
        else:
            assert all(isinstance(value, torch.Tensor) for value in state.values())
    assert not warned, [str(w.message) for w in warned]  # nothing but the error
    try:
        model = models.get_model(MODEL, weights=path)
    except WeightsError as err:
        assert str(path) in str(err)
    else:
        assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


@given(plan=damages())
def test_with_its_sha256_every_change_is_refused(originals, tmp_path_factory, plan) -> None:
    damaged = plan(originals["model"])
    if damaged == originals["model"]:
        return
    path = write(tmp_path_factory, damaged)
    with pytest.raises(WeightsError, match="SHA-256"):
        load_state_dict(path, sha256=sha256_of(write(tmp_path_factory, originals["model"])))


class Trap:
    """An object whose unpickling would create a file."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@given(where=st.sampled_from(["top", "model", "tensor"]))
@example(where="top")
def test_a_pickle_that_runs_code_is_refused_and_not_run(tmp_path_factory, where) -> None:
    folder = tmp_path_factory.mktemp("trap")
    marker = folder / "ran"
    trap = Trap(marker)
    content = {
        "top": trap,
        "model": {"format": "mnistlite-checkpoint-v1", "model": {"w": trap}},
        "tensor": {"w": torch.zeros(2), "extra": trap},
    }[where]
    path = folder / "trap.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    with pytest.raises(WeightsError):
        load_state_dict(path)
    with pytest.raises(WeightsError):
        models.get_model(MODEL, weights=path)
    assert not marker.exists()


def test_the_originals_load(originals, tmp_path_factory) -> None:
    """The undamaged files load: the properties above start from valid files."""
    checkpoint = write(tmp_path_factory, originals["checkpoint"])
    weights = write(tmp_path_factory, originals["model"])
    assert load_checkpoint(checkpoint)["format"] == "mnistlite-checkpoint-v1"
    assert models.get_model(MODEL, weights=weights) is not None
    assert models.get_model(MODEL, weights=checkpoint) is not None
    assert zipfile.is_zipfile(weights)
