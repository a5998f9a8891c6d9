"""Golden runs: short CPU trainings on the real MNIST whose every number is pinned.

Each case trains a registered recipe for two epochs on 512 training images, evaluating on
the first 1,000 test images, in fp32 (``bf16=False``), and compares its per-epoch records,
its batch losses and its final weights with ``tests/golden/NAME.json``. The cases: one
seed, ``seeds=[1, 2]`` side by side, a run distilled from a teacher, one sweep trial, and a
run stopped after its first epoch and resumed.

On the machine that wrote the files (same CPU model, torch version and thread count) the
comparison is exact: a refactoring that changes any float fails. Elsewhere the kernels
differ in their last bits, so the numbers are compared within a tolerance.

Regenerate (only when a change of numbers is intended, and say why in the commit)::

    python tests/test_golden.py ../shared/data
"""

from __future__ import annotations

import json
import math
import platform
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

GOLDEN = Path(__file__).parent / "golden"
TRAIN_IMAGES, TEST_IMAGES, EPOCHS = 512, 1000, 2


def _fingerprint() -> dict[str, Any]:
    """What must match for the comparison to be exact."""
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "torch": torch.__version__, "threads": torch.get_num_threads()}


def _data(root: Path) -> tuple[Any, Any]:
    from mnistlite.data import load_mnist

    train = load_mnist(root, train=True).take(TRAIN_IMAGES)
    test = load_mnist(root, train=False).take(TEST_IMAGES)
    return train, test


def _weights(model: torch.nn.Module) -> dict[str, list[float]]:
    return {k: v.detach().double().flatten().tolist() for k, v in model.state_dict().items()}


def _history(history: Any) -> dict[str, Any]:
    epochs = [{k: v for k, v in r.items() if k != "seconds"} for r in history.epochs]
    return {"epochs": epochs, "batch_losses": history.batch_losses}


def _train(recipe_name: str, data: tuple[Any, Any], **kwargs: Any) -> Any:
    from mnistlite import recipes

    recipe = recipes.get_recipe(recipe_name, epochs=EPOCHS)
    return recipes.train(recipe, data=data, device="cpu", progress=False, bf16=False, **kwargs)


def case_one_seed(data: tuple[Any, Any], tmp: Path) -> dict[str, Any]:
    model, history = _train("lite1k", data, seed=3)
    return {"history": _history(history), "weights": _weights(model)}


def case_two_seeds(data: tuple[Any, Any], tmp: Path) -> dict[str, Any]:
    models, histories = _train("lite600", data, seeds=[1, 2])
    return {
        "histories": [_history(h) for h in histories],
        "weights": [_weights(m) for m in models],
    }


def case_teacher(data: tuple[Any, Any], tmp: Path) -> dict[str, Any]:
    model, history = _train("lite2k", data, seed=2)
    return {"history": _history(history), "weights": _weights(model)}


class _Stop(Exception):
    pass


def case_resume(data: tuple[Any, Any], tmp: Path) -> dict[str, Any]:
    """Stopped by an exception after epoch 1's checkpoint, then resumed: as one_seed."""
    from mnistlite.training import Callback

    class StopAfterFirst(Callback):
        def on_epoch_end(self, trainer: Any, record: dict[str, float]) -> None:
            raise _Stop

    out = tmp / "resume"
    with pytest.raises(_Stop):
        _train("lite1k", data, seed=3, out=out, callbacks=[StopAfterFirst()])
    model, history = _train("lite1k", data, seed=3, out=out, resume=True)
    return {"history": _history(history), "weights": _weights(model)}


def case_sweep_trial(data: tuple[Any, Any], tmp: Path) -> dict[str, Any]:
    """One trial of the sweep's objective with fixed parameters, its reports recorded."""
    optuna = pytest.importorskip("optuna")
    from mnistlite import sweep

    params = {
        "c1": 6, "c2": 8, "transition": "none", "tail_layers": 2,
        "tail0_block": "dw", "tail0_width": 8, "tail1_block": "conv", "tail1_width": 10,
        "shared_repeats": 1, "dropout": 0.05, "norm": "batch", "lr": 0.2,
        "weight_decay": 1e-4, "rotation": 5.0, "translate": 0.05, "label_smoothing": 0.05,
        "batch_size": 64, "schedule": "step",
    }  # fmt: skip

    class Recording(optuna.trial.FixedTrial):
        reports: list[list[float]] = []

        def report(self, value: float, step: int) -> None:
            self.reports.append([step, value])

    trial = Recording(params)
    train, val = data
    value = sweep.objective(trial, budget=2000, train=train, val=val, epochs=EPOCHS, seed=4)
    attrs = {k: trial.user_attrs[k] for k in ("params", "macs", "val_acc", "spec", "recipe")}
    return {"value": value, "reports": trial.reports, "attrs": attrs}


CASES = {
    "one_seed": case_one_seed,
    "two_seeds": case_two_seeds,
    "teacher": case_teacher,
    "resume": case_resume,
    "sweep_trial": case_sweep_trial,
}


def _compare(got: Any, want: Any, exact: bool, where: str = "") -> None:
    """Equal to the last bit when ``exact``, else within a tolerance (floats only)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), where
        for key in want:
            _compare(got[key], want[key], exact, f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _compare(g, w, exact, f"{where}[{i}]")
    elif isinstance(want, float) and not exact:
        tolerance = 0.5 if where.endswith("_acc") or "reports" in where else 2e-2
        assert math.isclose(got, want, rel_tol=2e-2, abs_tol=tolerance), (where, got, want)
    else:
        assert got == want, (where, got, want)


@pytest.fixture(scope="module")
def golden_data(mnist_root: Path) -> tuple[Any, Any]:
    return _data(mnist_root)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_run(name: str, golden_data: tuple[Any, Any], tmp_path: Path) -> None:
    stored = json.loads((GOLDEN / f"{name}.json").read_text())
    exact = stored["fingerprint"] == _fingerprint()
    got = json.loads(json.dumps(CASES[name](golden_data, tmp_path)))
    _compare(got, stored["result"], exact, name)


def test_resume_is_the_uninterrupted_run() -> None:
    """The stored resumed run is the stored uninterrupted one, to the last bit."""
    resumed = json.loads((GOLDEN / "resume.json").read_text())["result"]
    straight = json.loads((GOLDEN / "one_seed.json").read_text())["result"]
    assert resumed == straight


def _write(root: Path) -> None:
    import tempfile

    GOLDEN.mkdir(exist_ok=True)
    data = _data(root)
    for name, case in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            result = case(data, Path(tmp))
        document = {"fingerprint": _fingerprint(), "result": result}
        (GOLDEN / f"{name}.json").write_text(json.dumps(document) + "\n")
        print(f"wrote {GOLDEN / name}.json")


if __name__ == "__main__":
    _write(Path(sys.argv[1]))
