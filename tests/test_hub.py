"""mnistlite.hub: save_pretrained / from_pretrained / push_to_hub, offline on local folders."""

import json
import os
import sys

import pytest
import torch

from mnistlite import History, hub, models, params
from mnistlite.errors import MissingExtraError, MnistliteError, WeightsError
from mnistlite.models import (
    Conv,
    DWConv,
    Head,
    NetSpec,
    OneByOne,
    Pool,
    Shared,
    SpecNet,
    spec_to_dict,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the network

#: A network of no registered model: every layer type, per-layer overrides, options.
CUSTOM = NetSpec(
    layers=(
        Conv(1, 6, 3, 1, batchnorm=False),
        Conv(6, 8, 3, 0, dropout=0.1, stride=1),
        OneByOne(8, 6, pool=True),
        DWConv(6, 10, 3, 1),
        Shared(10, 2, 3),
        Pool(),
        Conv(10, 10, 3, 0, relu=False),
        Head(10, conv=False),
    ),
    dropout=0.03,
    norm="scalar",
)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if "huggingface_hub" in sys.modules:
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)


def trained_like(spec, seed=0):
    """A SpecNet whose every parameter and buffer differs from its initialisation."""
    torch.manual_seed(seed)
    model = SpecNet(spec)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5)
            else:
                tensor.fill_(seed + 7)
    return model.eval()


def images(n=16):
    return torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def front_matter(folder):
    from huggingface_hub import ModelCard

    return ModelCard.load(folder / "README.md").data


def test_custom_spec_round_trips_exactly(tmp_path):
    model = trained_like(CUSTOM)
    folder = hub.save_pretrained(model, tmp_path / "custom")
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    loaded = hub.from_pretrained(folder)
    assert loaded.spec == CUSTOM and not loaded.training
    state, again = model.state_dict(), loaded.state_dict()
    assert state.keys() == again.keys() and all(torch.equal(state[k], again[k]) for k in state)
    assert torch.equal(loaded(images()), model(images()))
    config = json.loads((folder / "config.json").read_text())
    assert config["spec"] == spec_to_dict(CUSTOM)
    assert config["num_params"] == params.count_parameters(model)
    assert config["macs"] == params.summary(model).total_macs
    assert "test_acc" not in config and config["name"].endswith(models.describe_spec(CUSTOM))
    assert hub.from_pretrained(str(folder)).spec == CUSTOM  # a str works as well as a Path


@pytest.mark.parametrize("name", ["step7", "lite1k", "lite600"])
def test_bundled_model_card_reports_its_measured_accuracy(tmp_path, name):
    model = models.get_model(name, weights="DEFAULT").eval()
    meta = models.get_model_weights(name).DEFAULT.meta
    folder = hub.save_pretrained(model, tmp_path / name)
    loaded = hub.from_pretrained(folder)
    assert torch.equal(loaded(images()), model(images()))
    data = front_matter(folder)
    assert data.library_name == "mnistlite" and data.license == "mit"
    assert data.datasets == ["mnist"] and data.metrics == ["accuracy"]
    assert {"mnistlite", "pytorch", "image-classification"} <= set(data.tags)
    (result,) = data.eval_results
    assert result.metric_value == meta["test_acc"] and result.dataset_type == "mnist"
    assert data.model_name == name
    card = (folder / "README.md").read_text()
    assert f"| Parameters | {meta['num_params']:,} |" in card
    assert f"| Multiply-adds per image | {meta['macs']:,} |" in card
    assert f"| MNIST test accuracy | {meta['test_acc']:.2f} % |" in card
    assert json.loads((folder / "config.json").read_text())["test_acc"] == meta["test_acc"]


def test_accuracy_given_or_from_a_history(tmp_path):
    history = History(epochs=[{"epoch": 1, "test_acc": 99.5}, {"epoch": 2, "test_acc": 98.25}])
    path = tmp_path / "history.json"
    path.write_text(json.dumps(history.to_dict()))
    model = trained_like(CUSTOM)
    for i, source in enumerate([history, history.to_dict(), path, str(path)]):
        folder = hub.save_pretrained(model, tmp_path / f"h{i}", history=source)
        assert front_matter(folder).eval_results[0].metric_value == 98.25  # final, not best
        assert "final epoch" in (folder / "README.md").read_text()
    bundled = models.lite600(weights="DEFAULT")
    folder = hub.save_pretrained(bundled, tmp_path / "given", accuracy=97, name="my-net")
    data = front_matter(folder)
    assert data.eval_results[0].metric_value == 97 and data.model_name == "my-net"
    assert "given by the uploader" in (folder / "README.md").read_text()


def test_unknown_accuracy_is_said_so(tmp_path):
    folder = hub.save_pretrained(models.lite600(), tmp_path / "random")  # not the bundled one
    data = front_matter(folder)
    assert not data.eval_results and data.metrics == ["accuracy"]
    card = (folder / "README.md").read_text()
    assert "| MNIST test accuracy | not measured |" in card and "# lite600" in card


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"accuracy": 101}, "0 to 100"),
        ({"accuracy": float("nan")}, "0 to 100"),
        ({"accuracy": "99"}, "0 to 100"),
        ({"accuracy": True}, "0 to 100"),
        ({"accuracy": 99, "history": History(epochs=[{"test_acc": 99.0}])}, "not both"),
        ({"history": History()}, "at least one epoch"),
        ({"history": [1, 2]}, "at least one epoch"),
        ({"history": {"epochs": [{"loss": 1.0}]}}, "no 'test_acc'"),
        ({"history": "missing/history.json"}, "cannot read a history"),
        ({"name": ""}, "non-empty string"),
    ],
)
def test_bad_card_input(tmp_path, kwargs, message):
    with pytest.raises(MnistliteError, match=message):
        hub.save_pretrained(models.lite600(), tmp_path / "m", **kwargs)
    assert not list(tmp_path.iterdir())


def test_only_spec_networks(tmp_path):
    with pytest.raises(MnistliteError, match="SpecNet"):
        hub.save_pretrained(torch.nn.Linear(784, 10), tmp_path / "m")
    compiled = torch.compile(models.lite600(weights="DEFAULT"))  # not run: no compile cost
    folder = hub.save_pretrained(compiled, tmp_path / "compiled")
    assert front_matter(folder).model_name == "lite600"
    assert hub.from_pretrained(folder).spec == models.LITE600


def test_existing_folder_is_refused_unless_overwrite(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    hub.save_pretrained(models.lite600(), target)  # an empty folder is fine
    (target / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(MnistliteError, match="not empty; pass overwrite=True"):
        hub.save_pretrained(trained_like(CUSTOM), target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    hub.save_pretrained(trained_like(CUSTOM), target, overwrite=True)
    assert sorted(p.name for p in target.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    assert hub.from_pretrained(target).spec == CUSTOM
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary sibling left
    (tmp_path / "file").write_text("x")
    with pytest.raises(MnistliteError, match="not a folder"):
        hub.save_pretrained(models.lite600(), tmp_path / "file", overwrite=True)


def test_never_replaces_the_current_folder(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    folder = hub.save_pretrained(models.lite600(), "sub/model")  # relative to the cwd
    assert folder == work / "sub" / "model" and hub.from_pretrained("sub/model") is not None
    for where in (".", "..", str(work), "sub/.."):
        with pytest.raises(MnistliteError, match="current folder"):
            hub.save_pretrained(models.lite600(), where, overwrite=True)
    assert sorted(p.name for p in work.iterdir()) == ["sub"]


def test_a_failed_save_leaves_nothing_half_written(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    target = tmp_path / "model"
    hub.save_pretrained(models.lite600(weights="DEFAULT"), target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    monkeypatch.setattr(hub, "_model_card", broken)  # after config and weights are written
    with pytest.raises(OSError, match="disk full"):
        hub.save_pretrained(trained_like(CUSTOM), target, overwrite=True)
    with pytest.raises(OSError, match="disk full"):
        hub.save_pretrained(trained_like(CUSTOM), tmp_path / "new")
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def _copy(folder, to):
    to.mkdir()
    for path in folder.iterdir():
        (to / path.name).write_bytes(path.read_bytes())
    return to


def test_config_of_another_network_than_the_weights(tmp_path):
    lite = hub.save_pretrained(models.lite600(weights="DEFAULT"), tmp_path / "lite")
    step = hub.save_pretrained(models.step7(weights="DEFAULT"), tmp_path / "step")
    mixed = _copy(lite, tmp_path / "mixed")
    (mixed / "config.json").write_bytes((step / "config.json").read_bytes())
    with pytest.raises(WeightsError, match="saved from another network"):
        hub.from_pretrained(mixed)
    # Same tensor shapes, other network (no ReLU in the last conv): the header tells.
    config = json.loads((lite / "config.json").read_text())
    config["spec"]["layers"][-2]["relu"] = not config["spec"]["layers"][-2]["relu"]
    (mixed / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="saved from another network"):
        hub.from_pretrained(mixed)
    # Weights without the spec in their header (written by save_weights): shapes tell.
    (mixed / "config.json").write_bytes((step / "config.json").read_bytes())
    models.save_weights(models.lite600(), mixed / "model.safetensors")
    with pytest.raises(WeightsError, match="do not match.*does not fit"):
        hub.from_pretrained(mixed)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not an mnistlite config"),
        (b'{"spec": "lite1k"}', "not an mnistlite config"),
        (b'{"architectures": ["BertModel"], "hidden_size": 768}', "not an mnistlite config"),
        (b'{"spec": {"layers": [{"type": "Transformer"}]}}', "unknown layer type"),
        (b'{"spec": {"layers": [{"type": "Conv", "cin": 1}]}}', "not a valid network spec"),
        (b'{"spec": {"layers": [], "width": 3}}', "unknown network option"),
        (b'{"format_version": 99, "spec": {"layers": []}}', "upgrade mnistlite"),
    ],
)
def test_malformed_config_json(tmp_path, content, message):
    folder = hub.save_pretrained(models.lite600(), tmp_path / "m")
    (folder / "config.json").write_bytes(content)
    with pytest.raises(MnistliteError, match=message):
        hub.from_pretrained(folder)


def test_missing_or_corrupt_files(tmp_path):
    folder = hub.save_pretrained(models.lite600(weights="DEFAULT"), tmp_path / "m")
    data = (folder / "model.safetensors").read_bytes()
    for bad in (data[: len(data) // 2], data[:-1], b""):
        (folder / "model.safetensors").write_bytes(bad)
        with pytest.raises(WeightsError, match="cannot read"):
            hub.from_pretrained(folder)
    flipped = bytearray(data)
    flipped[-5] ^= 0x10  # in the tensors' bytes: the header's digest catches it
    (folder / "model.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(WeightsError, match="digest"):
        hub.from_pretrained(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match="no model.safetensors"):
        hub.from_pretrained(folder)
    (folder / "config.json").unlink()
    with pytest.raises(MnistliteError, match="no config.json"):
        hub.from_pretrained(folder)
    with pytest.raises(MnistliteError, match="is a file"):
        hub.from_pretrained(folder / "README.md")
    for missing in (tmp_path / "nowhere", str(tmp_path / "nowhere"), "./nowhere", "a/b/c"):
        with pytest.raises(MnistliteError, match="no folder"):
            hub.from_pretrained(missing)


def test_missing_extra_names_the_install_line(tmp_path, monkeypatch):
    folder = hub.save_pretrained(models.lite600(weights="DEFAULT"), tmp_path / "m")
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    with pytest.raises(MissingExtraError, match=r'pip install "mnistlite\[hub\]"') as info:
        hub.from_pretrained("someone/lite600")
    assert isinstance(info.value, ImportError)
    with pytest.raises(MissingExtraError, match=r"mnistlite\[hub\]"):
        hub.push_to_hub(models.lite600(), "someone/lite600")
    assert hub.from_pretrained(folder).spec == models.LITE600  # folders need no extra


def _fake_cache(cache, repo_id, folder, commit="0123456789abcdef0123456789abcdef01234567"):
    """The Hugging Face cache's layout, as snapshot_download leaves it."""
    storage = cache / f"models--{repo_id.replace('/', '--')}"
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(commit)
    (storage / "snapshots").mkdir()
    _copy(folder, storage / "snapshots" / commit)


def test_repo_id_through_snapshot_download_offline(tmp_path):
    pytest.importorskip("huggingface_hub")
    model = trained_like(CUSTOM)
    folder = hub.save_pretrained(model, tmp_path / "m")
    cache = tmp_path / "cache"
    _fake_cache(cache, "someone/custom-net", folder)
    loaded = hub.from_pretrained("someone/custom-net", cache_dir=cache)
    assert loaded.spec == CUSTOM and torch.equal(loaded(images()), model(images()))
    with pytest.raises(MnistliteError, match="not in the local Hugging Face cache"):
        hub.from_pretrained("someone/other-net", cache_dir=cache)
    with pytest.raises(MnistliteError, match="neither a folder nor a Hub repository id"):
        hub.from_pretrained("bad id!", cache_dir=cache)


def test_from_pretrained_passes_its_options_to_snapshot_download(tmp_path, monkeypatch):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    folder = hub.save_pretrained(models.lite600(weights="DEFAULT"), tmp_path / "m")
    calls = []

    def snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    hub.from_pretrained("someone/lite600", revision="v1", token="t", local_files_only=True)
    ((repo_id, kwargs),) = calls
    assert repo_id == "someone/lite600" and kwargs["revision"] == "v1" and kwargs["token"] == "t"
    assert kwargs["local_files_only"] is True and kwargs["library_name"] == "mnistlite"
    assert sorted(kwargs["allow_patterns"]) == ["README.md", "config.json", "model.safetensors"]


def test_push_to_hub_with_a_fake_api(monkeypatch):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    model = models.lite1k(weights="DEFAULT").eval()
    seen = {}

    class FakeApi:
        def __init__(self, token=None, **kwargs):
            seen["token"], seen["library_name"] = token, kwargs.get("library_name")

        def create_repo(self, repo_id, **kwargs):
            seen["create_repo"] = (repo_id, kwargs)

        def upload_folder(self, *, repo_id, folder_path, **kwargs):
            seen["upload"] = (repo_id, kwargs)
            seen["folder"] = folder_path
            seen["model"] = hub.from_pretrained(folder_path)  # what the Hub would serve
            seen["card"] = (folder_path / "README.md").read_text()

            class Info:
                commit_url = f"https://huggingface.co/{repo_id}/commit/abc"
                pr_url = None

            return Info()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = hub.push_to_hub(model, "someone/lite1k", private=True, token="hf_x", revision="dev")
    assert url == "https://huggingface.co/someone/lite1k/commit/abc"
    assert seen["token"] == "hf_x" and seen["library_name"] == "mnistlite"
    repo_id, kwargs = seen["create_repo"]
    assert repo_id == "someone/lite1k" and kwargs["exist_ok"] is True and kwargs["private"] is True
    assert seen["upload"][0] == "someone/lite1k" and seen["upload"][1]["revision"] == "dev"
    assert torch.equal(seen["model"](images()), model(images()))
    assert 'from_pretrained("someone/lite1k")' in seen["card"]
    assert not seen["folder"].exists()  # the temporary folder is gone


def test_the_sharing_page_example_runs(tmp_path):
    """docs/sharing.rst's round-trip script, as a reader would run it."""
    import subprocess
    import textwrap

    from conftest import REPO

    text = (REPO / "docs" / "sharing.rst").read_text()
    block = text.split(":name: sharing-example\n", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith("   "):
            break
        lines.append(line)
    code = textwrap.dedent("\n".join(lines))
    assert "hub.save_pretrained" in code and "hub.from_pretrained" in code
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "['README.md', 'config.json', 'model.safetensors']" in done.stdout
    assert "library_name" in done.stdout and "98.5" in done.stdout
    assert (tmp_path / "lite1k-hub" / "model.safetensors").is_file()


def test_bundled_accuracy_needs_the_same_spec_and_tensors(tmp_path):
    """step7's tensors in a network with other dropout are not step7's measured model."""
    other = SpecNet(models.STEP5.with_options(dropout=0.2))
    other.load_state_dict(models.step7(weights="DEFAULT").state_dict())
    folder = hub.save_pretrained(other, tmp_path / "other")
    assert not front_matter(folder).eval_results
    assert "not measured" in (folder / "README.md").read_text()
    numpy = pytest.importorskip("numpy")
    folder = hub.save_pretrained(other, tmp_path / "np", accuracy=numpy.float32(99.25))
    assert front_matter(folder).eval_results[0].metric_value == 99.25
