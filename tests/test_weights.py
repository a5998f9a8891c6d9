import json
import shutil

import pytest
import torch

from mnistlite import cli, models
from mnistlite.models.weights import Weights, WeightsError
from mnistlite.training import Trainer

ENUMS = {
    name: getattr(models, f"{name.capitalize()}_Weights")
    for name in models.list_models()
    if hasattr(models, f"{name.capitalize()}_Weights")
}
BUNDLED = [name for name, enum in ENUMS.items() if len(enum) > 0]


def test_seed_steps_two_to_seven_are_bundled():
    assert {f"step{i}" for i in range(2, 8)} <= set(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_enum_entry_metadata(name):
    enum = ENUMS[name]
    entry = enum.DEFAULT
    assert entry is enum.MNIST_V1
    meta = entry.meta
    model = models.get_model(name, weights="DEFAULT")
    assert meta["num_params"] == sum(p.numel() for p in model.parameters())
    assert 90.0 < meta["test_accuracy"] <= 100.0
    assert meta["recipe"]["model"] == name
    assert meta["run"]["epoch_shipped"] == meta["run"]["epochs"]  # the final epoch
    assert len(entry.value.sha256) == 64
    x = entry.transforms()(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    assert x.shape == (2, 1, 28, 28) and x.dtype == torch.float32
    assert enum.verify(f"{enum.__name__}.MNIST_V1") is entry


@pytest.mark.parametrize("name", BUNDLED)
def test_shipped_weights_reach_stated_accuracy(name, mnist_test):
    builder = models.get_model_builder(name)
    model = builder(weights=ENUMS[name].DEFAULT)
    result = Trainer(model, progress=False).evaluate(mnist_test)
    assert result["accuracy"] == pytest.approx(ENUMS[name].DEFAULT.meta["test_accuracy"], abs=0.01)


def test_changed_or_truncated_file_is_refused(tmp_path, monkeypatch):
    entry = models.Step7_Weights.DEFAULT.value
    copy = tmp_path / entry.file
    shutil.copy(entry.path, copy)
    monkeypatch.setattr("mnistlite.models.weights.WEIGHTS_DIR", tmp_path)
    assert Weights(entry.file, entry.sha256).get_state_dict().keys()
    copy.write_bytes(copy.read_bytes()[:-10])
    with pytest.raises(WeightsError, match="SHA-256"):
        Weights(entry.file, entry.sha256).get_state_dict()
    data = bytearray(entry.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="changed or truncated"):
        Weights(entry.file, entry.sha256).get_state_dict()


def test_weights_errors():
    with pytest.raises(ValueError, match="not bundled"):
        models.step1(weights="DEFAULT")
    with pytest.raises(ValueError, match="available"):
        models.step7(weights="IMAGENET")
    with pytest.raises(ValueError, match="fix the architecture"):
        models.step7(weights="DEFAULT", dropout=0.2)


def test_cli_eval_default_and_path(mnist_root, tmp_path, capsys):
    assert cli.main(["eval", "step7", "--data", str(mnist_root), "--json"]) == 0
    out = capsys.readouterr().out
    stated = models.Step7_Weights.DEFAULT.meta["test_accuracy"]
    assert json.loads(out)["accuracy"] == pytest.approx(stated, abs=0.01)
    path = tmp_path / "w.pt"
    torch.save(models.step7(weights="DEFAULT").state_dict(), path)
    assert cli.main(["eval", "step7", "--data", str(mnist_root), "--weights", str(path)]) == 0
    assert f"{stated:.2f}%" in capsys.readouterr().out
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nonsense")
    assert cli.main(["eval", "step7", "--data", str(mnist_root), "--weights", str(bad)]) == 2
    assert "cannot read weights" in capsys.readouterr().err
    assert cli.main(["eval", "step2", "--data", str(mnist_root), "--weights", str(path)]) == 2
    assert "does not fit" in capsys.readouterr().err
