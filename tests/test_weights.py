import hashlib
import json
import random
import shutil

import pytest
import torch

from mnistlite import cli, models
from mnistlite.models.weights import Weights, WeightsError, sha256_of, tensors_digest
from mnistlite.training import Trainer

ENUMS = {name: models.get_model_weights(name) for name in models.list_models(exclude="step1")}
BUNDLED = [name for name, enum in ENUMS.items() if len(enum) > 0]


def test_notebook_steps_two_to_seven_are_bundled():
    assert {f"step{i}" for i in range(2, 8)} <= set(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_enum_entry_metadata(name):
    enum = ENUMS[name]
    entry = enum.DEFAULT
    assert entry is enum.MNIST_V1
    meta = entry.meta
    model = models.get_model(name, weights="DEFAULT")
    assert meta["num_params"] == sum(p.numel() for p in model.parameters())
    assert 90.0 < meta["test_acc"] <= 100.0
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
    assert result["accuracy"] == pytest.approx(ENUMS[name].DEFAULT.meta["test_acc"], abs=0.01)


@pytest.mark.parametrize("name", ["lite600", "lite1k", "lite2k"])
def test_stated_training_accuracy_is_the_fit_on_the_training_images(name, mnist_train):
    """``train_acc``: the 60,000 training images as they are, in evaluation mode."""
    model = models.get_model(name, weights="DEFAULT")
    result = Trainer(model, progress=False).evaluate(mnist_train)
    assert result["accuracy"] == pytest.approx(ENUMS[name].DEFAULT.meta["train_acc"], abs=0.01)


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
    stated = models.Step7_Weights.DEFAULT.meta["test_acc"]
    result = json.loads(out)
    assert result["test_acc"] == pytest.approx(stated, abs=0.01)  # the metadata's name
    assert set(result) == {"model", "weights", "test_loss", "test_acc"}
    path = tmp_path / "w.pt"
    torch.save(models.step7(weights="DEFAULT").state_dict(), path)
    assert cli.main(["eval", "step7", "--data", str(mnist_root), "--weights", str(path)]) == 0
    assert f"{stated:.2f}%" in capsys.readouterr().out
    safetensors = models.save_weights(
        torch.load(path, weights_only=True), tmp_path / "w.safetensors"
    )
    assert (
        cli.main(["eval", "step7", "--data", str(mnist_root), "--weights", str(safetensors)]) == 0
    )
    assert f"{stated:.2f}%" in capsys.readouterr().out
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nonsense")
    assert cli.main(["eval", "step7", "--data", str(mnist_root), "--weights", str(bad)]) == 2
    assert "cannot read weights" in capsys.readouterr().err
    assert cli.main(["eval", "step2", "--data", str(mnist_root), "--weights", str(path)]) == 2
    assert "does not fit" in capsys.readouterr().err


# -- torchvision's API and metadata schema --------------------------------------------

#: The keys torchvision's test_schema_meta_validation requires of a classification
#: model's weights (its "all" and "models" sets), with MNIST in place of ImageNet.
TORCHVISION_REQUIRED = {
    "categories",
    "min_size",
    "num_params",
    "recipe",
    "_docs",
    "_file_size",
    "_ops",
    "_metrics",
    ("_metrics", "MNIST", "acc@1"),
}


@pytest.mark.parametrize("name", BUNDLED)
def test_schema_meta_validation(name):
    """As torchvision's own test: required keys, num_params, _ops, _file_size, names."""
    from mnistlite import params

    enum = models.get_model_weights(name)
    for w in enum:
        meta = w.meta
        present = set(meta) | {
            ("_metrics", dataset, key)
            for dataset in meta["_metrics"]
            for key in meta["_metrics"][dataset]
        }
        assert not TORCHVISION_REQUIRED - present, TORCHVISION_REQUIRED - present
        model = models.get_model(name, weights=w)
        assert meta["num_params"] == sum(p.numel() for p in model.parameters())
        assert meta["_ops"] == pytest.approx(params.summary(model).total_macs / 1e9, abs=1e-6)
        assert meta["_file_size"] == round(w.value.path.stat().st_size / 1024 / 1024, 3)
        assert meta["categories"] == [str(d) for d in range(10)]
        assert meta["min_size"] == (28, 28)
        assert meta["_metrics"]["MNIST"]["acc@1"] == meta["test_acc"]
        assert isinstance(meta["_docs"], str) and meta["_docs"].endswith(".")
        assert w.name.isupper()


def test_get_model_weights_and_get_weight():
    assert models.get_model_weights("step7") is models.Step7_Weights
    assert models.get_model_weights(models.lite8k) is models.Lite8k_Weights
    assert models.get_weight("Step7_Weights.DEFAULT") is models.Step7_Weights.MNIST_V1
    assert models.get_weight("Lite600_Weights.MNIST_V1") is models.Lite600_Weights.MNIST_V1
    for bad in ("Step7_Weights", "Nope_Weights.DEFAULT", "Step7_Weights.IMAGENET"):
        with pytest.raises(WeightsError):
            models.get_weight(bad)
    with pytest.raises(WeightsError, match="no bundled weights"):
        models.get_model_weights("step1")
    with pytest.raises(ValueError, match="not a registered model builder"):
        models.get_model_weights(lambda: None)


def test_registry_holds_the_enum_not_a_guess(monkeypatch):
    """A user model registered with its own enum is found by builder and by name."""
    from mnistlite.models import registry

    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    monkeypatch.setattr(registry, "_WEIGHTS", dict(registry._WEIGHTS))
    enum = models.WeightsEnum("Custom_Weights", [], module=__name__)

    @models.register_model("customnet", weights=enum)
    def anything(*, weights=None, progress=True, **kwargs):
        return models.step7()

    assert models.get_model_weights("customnet") is enum
    assert models.get_model_weights(anything) is enum
    with pytest.raises(ValueError, match="WeightsEnum"):
        models.register_model("other", weights=dict)


@pytest.mark.parametrize(
    "include, exclude, keep",
    [
        (None, None, lambda n: True),
        ("lite*", None, lambda n: n.startswith("lite")),
        (["step[12]", "lite600"], None, lambda n: n in ("step1", "step2", "lite600")),
        ("lite*", "*k", lambda n: n.startswith("lite") and not n.endswith("k")),
        (None, ["step*", "lite?k"], lambda n: not n.startswith("step") and len(n) != 6),
        ("nothing-matches-*", None, lambda n: False),
        ([], (), lambda n: True),
    ],
)
def test_list_models_filters(include, exclude, keep):
    """fnmatch patterns, a string or several, as torchvision's list_models takes them."""
    every = models.list_models()
    assert {"step1", "step7", "lite600", "lite2k"} <= set(every)
    got = models.list_models(include=include, exclude=exclude)
    assert got == [n for n in every if keep(n)]


def test_get_model_with_a_weights_file(tmp_path):
    """``get_model(name, weights=PATH)`` loads a run's model.pt; step1 too."""
    path = tmp_path / "model.pt"
    source = models.step1()
    torch.save(source.state_dict(), path)
    loaded = models.get_model("step1", weights=path)
    assert torch.equal(
        loaded.state_dict()["layers.0.0.weight"], source.state_dict()["layers.0.0.weight"]
    )
    assert models.get_model("step1", weights=str(path)) is not None
    with pytest.raises(WeightsError, match="does not fit model step7"):
        models.get_model("step7", weights=path)
    with pytest.raises(WeightsError, match="not found"):
        models.get_model("step7", weights=tmp_path / "missing.pt")


# -- safetensors and .pt files --------------------------------------------------------


def same_state(a, b):
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a
    )


def test_bundled_files_are_safetensors_and_match_their_manifest():
    for name in BUNDLED:
        entry = ENUMS[name].DEFAULT.value
        assert entry.path.suffix == ".safetensors", entry.file
        assert sha256_of(entry.path) == entry.sha256
        with entry.path.open("rb") as handle:  # the safetensors layout: length, then JSON
            size = int.from_bytes(handle.read(8), "little")
            assert handle.read(1) == b"{" and size < entry.path.stat().st_size


@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ".pth"])
def test_save_weights_round_trip_through_get_model(tmp_path, suffix):
    source = models.get_model("lite1k", weights="DEFAULT").eval()
    path = models.save_weights(source, tmp_path / f"w{suffix}")
    assert path == tmp_path / f"w{suffix}" and not list(tmp_path.glob(".*.tmp"))
    assert same_state(models.load_state_dict(path), source.state_dict())
    x = torch.randn(4, 1, 28, 28)
    for weights in (path, str(path)):
        loaded = models.get_model("lite1k", weights=weights).eval()
        assert torch.equal(loaded(x), source(x))
    with pytest.raises(WeightsError, match="does not fit model lite600"):
        models.get_model("lite600", weights=path)


def test_pt_files_users_already_have_keep_loading(tmp_path, monkeypatch):
    source = models.step7(weights="DEFAULT")
    plain = tmp_path / "model.pt"
    torch.save(source.state_dict(), plain)  # as `mnistlite train` and torch.save write it
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"model": source.state_dict(), "epoch": 3}, checkpoint)
    for path in (plain, checkpoint):
        assert same_state(models.get_model("step7", weights=path).state_dict(), source.state_dict())
    # a manifest entry that still names a .pt file is checked and read as before
    monkeypatch.setattr("mnistlite.models.weights.WEIGHTS_DIR", tmp_path)
    assert same_state(Weights("model.pt", sha256_of(plain)).get_state_dict(), source.state_dict())
    with pytest.raises(WeightsError, match="SHA-256"):
        Weights("model.pt", "0" * 64).get_state_dict()


def test_format_is_told_by_content_when_the_suffix_says_nothing(tmp_path):
    state = models.lite600(weights="DEFAULT").state_dict()
    for suffix in (".safetensors", ".pt"):
        path = models.save_weights(state, tmp_path / f"w{suffix}")
        renamed = path.rename(tmp_path / f"weights-{suffix[1:]}.bin")
        assert same_state(models.load_state_dict(renamed), state)


def test_save_weights_is_deterministic_and_records_its_digest(tmp_path):
    from safetensors import safe_open

    state = models.step7(weights="DEFAULT").state_dict()
    extra = {"b": "2", "a": "1", "c": "3", "d": "4"}
    paths = [models.save_weights(state, tmp_path / f"{i}.safetensors", extra) for i in range(4)]
    assert len({p.read_bytes() for p in paths}) == 1  # metadata order does not vary
    with safe_open(str(paths[0]), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["mnistlite.tensors_sha256"] == tensors_digest(state)
    assert {k: metadata[k] for k in extra} == extra and metadata["format"] == "pt"


def test_save_weights_bad_input(tmp_path):
    model = models.lite600()
    with pytest.raises(WeightsError, match=r"suffix '\.onnx'.*\.safetensors"):
        models.save_weights(model, tmp_path / "w.onnx")
    with pytest.raises(WeightsError, match="state dict of tensors"):
        models.save_weights({"a": [1, 2]}, tmp_path / "w.safetensors")
    with pytest.raises(WeightsError, match="str to str"):
        models.save_weights(model, tmp_path / "w.safetensors", metadata={"acc": 99.1})
    assert not list(tmp_path.iterdir())


def test_save_weights_replaces_atomically(tmp_path, monkeypatch):
    path = models.save_weights(models.lite600(weights="DEFAULT"), tmp_path / "w.safetensors")
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save", fail)
    with pytest.raises(OSError, match="disk full"):
        models.save_weights(models.lite600(), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


def _flipped(data: bytes, position: int) -> bytes:
    out = bytearray(data)
    out[position] ^= 1 << (position % 8)
    return bytes(out)


def test_every_bit_flip_in_a_written_safetensors_file_is_caught(tmp_path):
    """One flipped bit at every byte: WeightsError, or (a flip in a metadata key or the
    header's padding) the very same tensors; never other tensors, never another error."""
    state = models.lite600(weights="DEFAULT").state_dict()
    data = models.save_weights(state, tmp_path / "w.safetensors").read_bytes()
    bad = tmp_path / "bad.safetensors"
    caught = 0
    for position in range(len(data)):
        bad.write_bytes(_flipped(data, position))
        try:
            loaded = models.load_state_dict(bad)
        except WeightsError:
            caught += 1
        else:
            assert same_state(loaded, state), position
    assert caught > 0.95 * len(data)


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_truncated_or_garbage_files_raise_weights_error(tmp_path, suffix):
    data = models.save_weights(models.lite1k(), tmp_path / f"w{suffix}").read_bytes()
    bad = tmp_path / f"bad{suffix}"
    for size in (0, 1, 7, 8, 9, 100, len(data) // 2, len(data) - 1):
        bad.write_bytes(data[:size])
        with pytest.raises(WeightsError, match="cannot read weights"):
            models.load_state_dict(bad)
        with pytest.raises(WeightsError):
            models.get_model("lite1k", weights=bad)
    for garbage in (b"nonsense", b"\xff" * 64, (2**63).to_bytes(8, "little") + b"{}"):
        bad.write_bytes(garbage)
        with pytest.raises(WeightsError, match="cannot read weights"):
            models.load_state_dict(bad)


def test_bit_flips_in_a_pt_file_raise_weights_error_or_load(tmp_path):
    """A .pt file has no digest of its own: a flip either fails to parse (WeightsError) or
    loads; with the SHA-256 known (bundled files) every flip is refused."""
    data = models.save_weights(models.lite600(weights="DEFAULT"), tmp_path / "w.pt").read_bytes()
    bad = tmp_path / "bad.pt"
    rng = random.Random(0)
    for position in sorted(rng.sample(range(len(data)), 300)):
        bad.write_bytes(_flipped(data, position))
        try:
            models.load_state_dict(bad)
        except WeightsError:
            pass
        with pytest.raises(WeightsError, match="SHA-256"):
            models.load_state_dict(bad, sha256=hashlib.sha256(data).hexdigest())


def test_safetensors_paths_are_paths():
    from mnistlite.models.weights import is_weights_path

    enum = models.Step7_Weights
    assert is_weights_path("model.safetensors", enum)
    assert is_weights_path("MODEL.SAFETENSORS", enum)
    assert not is_weights_path("DEFAULT", enum)
    with pytest.raises(WeightsError, match=r"\.safetensors or \.pt"):
        models.step7(weights="IMAGENET")
