"""hubconf.py: torch.hub gives the registry's models, with the bundled weights."""

import importlib.util
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO

from mnistlite import models
from mnistlite.errors import WeightsError


@pytest.fixture
def offline_hub(monkeypatch):
    """torch.hub.list/help take only GitHub repositories: point their fetch at the checkout."""
    monkeypatch.setattr(torch.hub, "_get_cache_or_reload", lambda *args, **kwargs: str(REPO))


def _hubconf():
    spec = importlib.util.spec_from_file_location("hubconf_under_test", REPO / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hub_load_gives_the_library_model():
    hub_model = torch.hub.load(str(REPO), "lite1k", weights="DEFAULT", source="local").eval()
    lib_model = models.lite1k(weights="DEFAULT").eval()
    assert type(hub_model) is type(lib_model) and hub_model.spec == lib_model.spec
    hub_state, lib_state = hub_model.state_dict(), lib_model.state_dict()
    assert hub_state.keys() == lib_state.keys()
    assert all(torch.equal(hub_state[k], lib_state[k]) for k in hub_state)
    x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert torch.equal(hub_model(x), lib_model(x))
    assert not torch.equal(models.lite1k().eval()(x), lib_model(x))  # weights were loaded


def test_one_entry_point_per_registered_model(offline_hub):
    assert torch.hub.list("owner/mnistlite") == sorted(models.list_models())
    module = _hubconf()
    assert "torch" in module.dependencies
    for name in models.list_models():
        assert getattr(module, name) is models.get_model_builder(name)
        doc = torch.hub.help("owner/mnistlite", name)
        assert doc and doc == models.get_model_builder(name).__doc__
    assert "weights" in torch.hub.help("owner/mnistlite", "lite1k")


def test_dependencies_are_importable():
    for package in _hubconf().dependencies:
        assert importlib.util.find_spec(package) is not None, package


@pytest.mark.parametrize("name", ["step7", "lite600", "teacher", "fast"])
def test_every_option_reaches_the_builder(name, tmp_path):
    model = torch.hub.load(str(REPO), name, source="local", dropout=0.1)
    assert model.spec == models.get_model(name, dropout=0.1).spec
    path = models.save_weights(models.get_model(name), tmp_path / "w.safetensors")
    loaded = torch.hub.load(str(REPO), name, weights=str(path), source="local")
    reference = models.load_state_dict(path)
    assert all(torch.equal(v, reference[k]) for k, v in loaded.state_dict().items())


def test_bad_weights_raise_the_library_error():
    with pytest.raises(WeightsError, match="available: MNIST_V1, DEFAULT"):
        torch.hub.load(str(REPO), "lite1k", weights="IMAGENET", source="local")
    with pytest.raises(WeightsError, match="not bundled"):
        torch.hub.load(str(REPO), "step1", weights="DEFAULT", source="local")


def test_hub_load_in_a_fresh_interpreter_uses_the_repository(tmp_path):
    """From another folder, torch.hub imports the checkout's mnistlite (no install needed)."""
    code = (
        "import torch, sys; "
        f"m = torch.hub.load({str(REPO)!r}, 'lite1k', weights='DEFAULT', source='local'); "
        "import mnistlite; print(mnistlite.__file__); "
        "print(m.eval()(torch.zeros(1, 1, 28, 28)).argmax().item())"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    location, digit = done.stdout.split()
    assert location.startswith(str(REPO)), location
    expected = models.lite1k(weights="DEFAULT").eval()(torch.zeros(1, 1, 28, 28)).argmax()
    assert int(digit) == expected.item()
