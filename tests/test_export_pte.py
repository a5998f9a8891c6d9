"""`mnistlite export --format pte`: ExecuTorch programs run by executorch.runtime."""

from __future__ import annotations

import sys

import pytest
import torch
from _helpers import run_cli
from conftest import require_or_skip
from torch import nn

from mnistlite import export, models
from mnistlite.errors import ExportError, MissingExtraError

MODEL = "lite600"
CHECK = 2_000  # test images the int8 check compares on


@pytest.fixture(scope="module", autouse=True)
def executorch_installed() -> None:
    try:
        import executorch.runtime  # noqa: F401
    except ImportError:
        require_or_skip("executorch is not installed (pip install -e '.[edge]')")


@pytest.fixture(scope="module")
def model() -> nn.Module:
    return models.get_model(MODEL, weights="DEFAULT").eval()


@pytest.fixture(scope="module")
def cli_pte(mnist_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("pte") / f"{MODEL}.pte"
    code, printed, err = run_cli(
        "export", MODEL, "--format", "pte", "--data", mnist_root, "--out", out
    )
    assert code == 0, err
    return out, printed


def test_cli_pte_checks_on_the_test_set(cli_pte) -> None:
    out, printed = cli_pte
    assert out.stat().st_size > 0 and f"wrote {out} (pte, {out.stat().st_size:,} bytes" in printed
    assert "checked on 10,000 MNIST test images" in printed
    assert "agree with PyTorch on 100.00%" in printed and "+0.00 pp" in printed


def test_pte_runs_like_pytorch(cli_pte, model, mnist_test) -> None:
    from mnistlite.export_pte import check_pte, run_pte

    out, _ = cli_pte
    images = mnist_test.images[:300]
    with torch.inference_mode():
        expected = model(images)
    got = run_pte(out, images)
    assert got.shape == (300, 10) and torch.allclose(got, expected, atol=1e-3)
    check = check_pte(out, model, images, mnist_test.labels[:300])
    assert check.agreement == 100.0 and check.accuracy_export == check.accuracy_torch


@pytest.mark.slow  # PT2E quantization and a second lowering: half a minute on two cores
def test_int8_pte_close_to_fp32(model, mnist_train, mnist_test, tmp_path) -> None:
    out = tmp_path / f"{MODEL}-int8.pte"
    calibration = export.calibration_images(mnist_train.images, n=500)
    images, labels = mnist_test.images[:CHECK], mnist_test.labels[:CHECK]
    report = export.export_model(
        model, out, "pte", int8=True, calibration=calibration,
        check_images=images, check_labels=labels,
    )  # fmt: skip
    assert report.int8 and report.format == "pte" and report.file_bytes == out.stat().st_size
    check = report.check
    assert check.agreement >= 98.0, check
    assert check.accuracy_export >= check.accuracy_torch - 1.0, check


def test_missing_extra_exits_2_and_names_it(monkeypatch, tmp_path) -> None:
    from mnistlite.export_pte import require_executorch

    monkeypatch.setitem(sys.modules, "executorch.runtime", None)
    with pytest.raises(MissingExtraError, match=r'pip install "mnistlite\[edge\]"'):
        require_executorch()
    code, _, err = run_cli("export", MODEL, "--format", "pte", "--out", tmp_path / "m.pte")
    assert code == 2 and 'pip install "mnistlite[edge]"' in err
    assert not list(tmp_path.iterdir())


class Branchy(nn.Module):
    """A forward that branches on the data: torch.export cannot capture it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 10, 28)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).flatten(1)
        return y if float(y.sum()) > 0 else -y


def test_a_model_that_cannot_be_lowered_is_an_export_error(tmp_path) -> None:
    with pytest.raises(ExportError, match="cannot lower Branchy to an ExecuTorch program"):
        export.export_model(Branchy(), tmp_path / "m.pte", "pte")
    with pytest.raises(ExportError, match="int8 export needs calibration images"):
        export.export_model(Branchy(), tmp_path / "m.pte", "pte", int8=True)
    assert not list(tmp_path.iterdir())


def test_cli_bad_format_exits_2(tmp_path) -> None:
    code, _, err = run_cli("export", MODEL, "--format", "tflite", "--out", tmp_path / "m")
    assert code == 2 and "unknown --format 'tflite'; expected one of onnx, pt2, pte, web" in err
    code, _, err = run_cli("export", MODEL, "--format", "pt2", "--int8", "--out", tmp_path / "m")
    assert code == 2 and "--int8 needs --data" in err
    assert not list(tmp_path.iterdir())
