"""Every example in examples/ answers --help and runs in its quick mode on real MNIST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NOTEBOOK_RUNS = ROOT / "results" / "notebook_reference.json"  # the notebooks' logs
SCRIPTS = [
    "train_recipe.py",
    "custom_model.py",
    "classify_digits.py",
    "plot_training.py",
    "compare_steps.py",
    "deploy.py",
]


def run_example(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one example script in a fresh interpreter, one thread, no GUI backend."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"{script} {' '.join(args)} exited with {result.returncode}:\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    return result


def quick(script: str, mnist_root: Path, out: Path, *extra: str) -> str:
    """Run a script's quick mode on the real MNIST into ``out``; return its stdout."""
    data = str(Path(mnist_root).resolve())
    args = ["--quick", "--data", data, "--out", str(out), *extra]
    return run_example(script, *args, cwd=out.parent).stdout


def test_every_example_is_listed() -> None:
    found = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert found == sorted(SCRIPTS)


@pytest.mark.slow  # each script also runs whole in its quick test below
@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script: str, tmp_path: Path) -> None:
    stdout = run_example(script, "--help", cwd=tmp_path).stdout
    assert stdout.startswith("usage:")
    for option in ("--data", "--download", "--out", "--quick"):
        assert option in stdout, f"{script} --help does not mention {option}"
    assert not list(tmp_path.iterdir()), "--help must not write anything"


def test_train_recipe_quick(mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = quick("train_recipe.py", mnist_root, out, "--recipe", "step7")
    assert "epoch   1  train loss" in stdout
    assert "500 training images, 500 test images" in stdout
    for name in ("history.json", "model.pt", "checkpoint.pt", "history.png"):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert len(history["epochs"]) == 1
    assert history["meta"]["recipe"]["name"] == "step7"


def test_custom_model_quick(mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = quick("custom_model.py", mnist_root, out)
    assert "TINY: 6,232 parameters, within the budget of 8,000" in stdout
    assert "ValueError: 8,728 parameters exceed the budget of 8,000" in stdout
    assert "Total params: 6,232" in stdout
    assert "epoch 1: train acc" in stdout
    for name in ("summary.txt", "history.json", "model.pt"):
        assert (out / name).is_file(), name


def test_classify_digits_quick(mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = quick("classify_digits.py", mnist_root, out)
    assert "digit  label  prediction" in stdout
    assert "accuracy on 1,000 test images:" in stdout
    accuracy = float(stdout.split("accuracy on 1,000 test images:")[1].split("%")[0])
    assert accuracy > 95.0
    assert (out / "predictions.png").is_file()


def test_plot_training_quick(mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = quick("plot_training.py", mnist_root, out, "--notebook-runs", str(NOTEBOOK_RUNS))
    assert "epoch 2: train loss" in stdout
    assert "overlaying the notebooks' step7 run" in stdout
    for name in ("history.png", "misclassified.png"):
        assert (out / name).is_file(), name
        assert (out / name).read_bytes().startswith(b"\x89PNG")


def test_compare_steps_quick(mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = quick("compare_steps.py", mnist_root, out, "--evaluate")
    assert "| model | parameters | MACs / image |" in stdout
    assert "| step1 | 6,379,786 |" in stdout
    assert "| step7 | 10,252 |" in stdout
    table = (out / "steps.md").read_text()
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == [
        f"step{i}" for i in range(1, 8)
    ]
    rows = json.loads((out / "steps.json").read_text())
    assert [row["params"] for row in rows][1:] == [7688, 7852, 7852, 10252, 10252, 10252]


@pytest.mark.parametrize("option", ["--notebook-runs", "--seed-runs"])  # the old name still works
def test_compare_steps_adds_the_notebooks_best_test(option: str, tmp_path: Path) -> None:
    """Without --evaluate no MNIST is read: the table takes the notebooks' logs alone."""
    out = tmp_path / "out"
    stdout = run_example(
        "compare_steps.py", option, str(NOTEBOOK_RUNS), "--out", str(out), cwd=tmp_path
    ).stdout
    assert "| notebook best (%) |" in stdout
    logs = json.loads(NOTEBOOK_RUNS.read_text())["runs"]
    rows = {row["model"]: row for row in json.loads((out / "steps.json").read_text())}
    for step, runs in logs.items():
        assert rows[step]["notebook_best_acc"] == max(runs[0]["test_acc"]), step
    assert (out / "steps.png").read_bytes().startswith(b"\x89PNG")


def test_deploy_quick(mnist_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="needs the mnistlite[export] extra")
    out = tmp_path / "out"
    stdout = quick("deploy.py", mnist_root, out)
    assert "ONNX Runtime vs PyTorch on 1,000 test images: 100.00% agree" in stdout
    drop = float(stdout.split("int8: ")[1].split("(")[1].split(" pp")[0])
    assert drop > -1.0
    assert "agrees with PyTorch on 100.00% of 200 images" in stdout
    said = stdout.split("my_digit.jpg: PyTorch says ")[1]
    assert said[0] == said.split("the label is ")[1][0]
    for name in ("step7.onnx", "step7-int8.onnx", "step7.pt2", "my_digit.jpg", "my_digit.png"):
        assert (out / name).is_file(), name
