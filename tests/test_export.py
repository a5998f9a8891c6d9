"""mnistlite.export and `mnistlite export` on the real MNIST with the bundled weights."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from mnistlite import export, models
from mnistlite.cli import main

onnx = pytest.importorskip("onnx", reason="needs the mnistlite[export] extra")
pytest.importorskip("onnxruntime", reason="needs the mnistlite[export] extra")
pytest.importorskip("onnxscript", reason="needs the mnistlite[export] extra")

CHECK = 2_000  # test images the default suite compares on


@pytest.fixture(scope="module")
def step7() -> nn.Module:
    return models.step7(weights="DEFAULT").eval()


@pytest.fixture(scope="module")
def fp32_onnx(step7, mnist_test, tmp_path_factory) -> export.ExportReport:
    out = tmp_path_factory.mktemp("onnx") / "step7.onnx"
    images, labels = mnist_test.images[:CHECK], mnist_test.labels[:CHECK]
    return export.export_model(step7, out, "onnx", check_images=images, check_labels=labels)


def test_onnx_round_trip_equals_pytorch(fp32_onnx, step7, mnist_test) -> None:
    check = fp32_onnx.check
    assert check is not None and check.images == CHECK
    assert check.agreement == 100.0 and check.max_abs_diff <= export.LOGIT_TOLERANCE
    assert check.accuracy_export == check.accuracy_torch > 97.0
    session = export.onnx_session(fp32_onnx.path)
    for batch in (1, 7):  # the batch dimension is dynamic
        images = mnist_test.images[100 : 100 + batch]
        with torch.inference_mode():
            expected = step7(images)
        assert torch.allclose(export.run_onnx(session, images), expected, atol=1e-4)
    model = onnx.load(str(fp32_onnx.path))
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["logits"]
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("BatchNormalization") == 2  # only the two before padded convolutions
    assert fp32_onnx.weight_bytes == export.onnx_weight_bytes(fp32_onnx.path)
    assert fp32_onnx.file_bytes == fp32_onnx.path.stat().st_size


def test_int8_accuracy_close_to_fp32(fp32_onnx, mnist_train, mnist_test, tmp_path) -> None:
    calibration = export.calibration_images(mnist_train.images, n=500)
    out = export.quantize_onnx(fp32_onnx.path, tmp_path / "step7-int8.onnx", calibration)
    images, labels = mnist_test.images[:CHECK], mnist_test.labels[:CHECK]
    logits = export.run_onnx(export.onnx_session(out), images)
    accuracy = 100.0 * float((logits.argmax(1) == labels).float().mean())
    assert fp32_onnx.check is not None and fp32_onnx.check.accuracy_torch is not None
    assert abs(accuracy - fp32_onnx.check.accuracy_torch) <= 0.5
    conv_weights = [init for init in onnx.load(str(out)).graph.initializer if len(init.dims) == 4]
    assert conv_weights and all(w.data_type == onnx.TensorProto.INT8 for w in conv_weights)
    assert export.onnx_weight_bytes(out) < 0.4 * fp32_onnx.weight_bytes
    assert out.stat().st_size < fp32_onnx.file_bytes


def test_slim_files_keep_only_what_onnx_runtime_needs(fp32_onnx) -> None:
    model = onnx.load(str(fp32_onnx.path))
    assert not model.graph.value_info and not any(
        n.name or n.metadata_props for n in model.graph.node
    )
    assert [o.domain for o in model.opset_import] == [""]
    assert export.slim_onnx(fp32_onnx.path.read_bytes()) == fp32_onnx.path.read_bytes()


def test_weight_only_int8_is_smaller_and_agrees(fp32_onnx, step7, mnist_test, tmp_path) -> None:
    from mnistlite.export_weightonly import quantize_weights_onnx

    images, labels = mnist_test.images[:CHECK], mnist_test.labels[:CHECK]
    for per_channel in (False, True):
        out = quantize_weights_onnx(fp32_onnx.path, tmp_path / "w.onnx", per_channel=per_channel)
        assert out.stat().st_size < 0.5 * fp32_onnx.file_bytes
        check = export.check_onnx(out, step7, images, labels)
        assert check.agreement >= 99.0 and check.accuracy_export >= check.accuracy_torch - 0.5
        ops = [node.op_type for node in onnx.load(str(out)).graph.node]
        assert ops.count("DequantizeLinear") == ops.count("Conv") and "QuantizeLinear" not in ops


@pytest.fixture(scope="module")
def cli_pt2(mnist_root, tmp_path_factory) -> tuple[Path, str]:
    """`mnistlite export step7 --format pt2 --data ROOT` (checked on the 10,000 test images)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("pt2") / "step7.pt2"
    argv = ["export", "step7", "--format", "pt2", "--data", str(mnist_root), "--out", str(out)]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(argv) == 0
    return out, stdout.getvalue()


def test_cli_export_pt2_checks_on_the_test_set(cli_pt2) -> None:
    out, text = cli_pt2
    assert f"wrote {out} (pt2," in text
    assert "checked on 10,000 MNIST test images: predictions agree with PyTorch on 100.00%" in text


def test_pt2_loads_and_matches(cli_pt2, step7, mnist_test) -> None:
    images, labels = mnist_test.images[:CHECK], mnist_test.labels[:CHECK]
    check = export.check_pt2(cli_pt2[0], step7, images, labels)
    assert check.agreement == 100.0 and check.max_abs_diff < 1e-5
    assert check.accuracy_export == check.accuracy_torch
    loaded = export.load_pt2(cli_pt2[0])
    with torch.inference_mode():  # the batch dimension is dynamic
        assert torch.equal(loaded(images[:1]).argmax(1), step7(images[:1]).argmax(1))
        assert loaded(images[:5]).shape == (5, 10)
    with pytest.raises(export.ExportError, match="cannot load"):
        export.load_pt2(Path(__file__))


@pytest.mark.parametrize("name", ["step3", "step7", "lite5k"])
def test_fold_batchnorm_is_exact(name, mnist_test) -> None:
    model = models.get_model(name, weights="DEFAULT").eval()
    folded = export.fold_batchnorm(model)
    before = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    after = sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert after < before
    with torch.inference_mode():
        x = mnist_test.images[:500]
        assert torch.allclose(folded(x), model(x), atol=1e-4)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == before  # not modified


def test_fold_keeps_batchnorm_where_not_exact() -> None:
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(3).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, -0.5, 2.0]))  # a negative scale: max-pool blocks
        bn.running_mean.uniform_(-1, 1)
    chain = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), bn, nn.MaxPool2d(2), nn.Conv2d(3, 2, 3))
    padded = nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.ReLU(), nn.BatchNorm2d(3), nn.Conv2d(3, 2, 3, padding=1)
    )
    for model in (chain, padded):
        folded = export.fold_batchnorm(model)
        assert any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
        x = torch.randn(4, 1, 12, 12)
        assert torch.allclose(folded(x), model.eval()(x), atol=1e-5)


def test_missing_extra_names_it(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r'pip install "mnistlite\[export\]"'):
        export.require_onnx()
    assert main(["export", "step7", "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    assert 'pip install "mnistlite[export]"' in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_bad_requests_are_clear_errors(step7, tmp_path) -> None:
    with pytest.raises(export.ExportError, match="unknown export format 'tflite'"):
        export.export_model(step7, tmp_path / "m", "tflite")
    with pytest.raises(
        export.ExportError, match="int8 export is made for formats onnx, pte, web, not 'pt2'"
    ):
        export.export_model(step7, tmp_path / "m.pt2", "pt2", int8=True)
    with pytest.raises(export.ExportError, match="needs calibration images"):
        export.export_model(step7, tmp_path / "m.onnx", "onnx", int8=True)
    with pytest.raises(export.ExportError, match="does not exist"):
        export.export_model(step7, tmp_path / "no" / "m.onnx")
    with pytest.raises(export.ExportError, match=r"\(N, 1, 28, 28\)"):
        export.calibration_images(torch.zeros(5, 28, 28))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "onnx", "--int8"], "--int8 needs --data ROOT"),
        (["--format", "pt2", "--out", "{tmp}/no/such/dir/m.pt2"], "existing folder"),
        (["--format", "pt2", "--weights", "{tmp}/missing.pt"], "not found"),
        (["--format", "tflite"], "unknown --format 'tflite'; expected one of onnx, pt2, pte, web"),
    ],
)
def test_cli_export_bad_input(args, message, tmp_path, capsys) -> None:
    argv = ["export", "step7", *(a.format(tmp=tmp_path) for a in args)]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "m.onnx")]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", [f"step{i}" for i in range(2, 8)] + ["lite600", "lite1k", "lite2k", "lite5k", "lite8k"]
)
def test_cli_int8_within_03_pp_on_the_full_test_set(name, mnist_root, tmp_path, capsys) -> None:
    out = tmp_path / f"{name}-int8.onnx"
    argv = ["export", name, "--format", "onnx", "--int8", "--data", str(mnist_root)]
    assert main([*argv, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    drop = float(text.split("PyTorch fp32 ")[1].split(", ")[1].split(" pp")[0])
    assert drop >= -0.3, text


def test_fold_turns_scalar_norms_into_plain_batchnorms(mnist_test) -> None:
    """The 2-parameter norms export as BatchNorms: same function, nothing scalar left."""
    from mnistlite.blocks import ScalarBatchNorm2d

    model = models.get_model("lite600", weights="DEFAULT").eval()
    assert any(isinstance(m, ScalarBatchNorm2d) for m in model.modules())
    folded = export.fold_batchnorm(model)
    assert not any(isinstance(m, ScalarBatchNorm2d) for m in folded.modules())
    with torch.inference_mode():
        x = mnist_test.images[:500]
        assert torch.allclose(folded(x), model(x), atol=1e-4)
    assert any(isinstance(m, ScalarBatchNorm2d) for m in model.modules())  # not modified
