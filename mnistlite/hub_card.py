"""What a saved model says about itself: ``config.json`` and the model card.

The facts (name, parameters, multiply-adds, accuracy and where it comes from) are
gathered once (``_Facts``) and written twice: as data in ``config.json`` and as the
card's YAML front matter and table, which the Hugging Face Hub reads.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mnistlite import params
from mnistlite.errors import MnistliteError, WeightsError
from mnistlite.models.registry import get_model_weights, list_models
from mnistlite.models.spec import NetSpec, SpecNet, describe_spec, spec_to_dict
from mnistlite.models.weights import (
    load_state_dict,
)
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD

#: The version of ``config.json``'s layout that this mnistlite writes and reads.
FORMAT_VERSION = 1


def _spec_text(spec: NetSpec) -> str:
    return json.dumps(spec_to_dict(spec), sort_keys=True)


@dataclass(frozen=True)
class _Facts:
    """What the model card and config say about a model beside its spec."""

    name: str
    accuracy: float | None
    accuracy_source: str
    num_params: int
    macs: int


def _unwrap(model: Any) -> SpecNet:
    """The :class:`SpecNet` inside ``model`` (a ``torch.compile``'d one included)."""
    inner = getattr(model, "_orig_mod", model)
    if not isinstance(inner, SpecNet):
        raise MnistliteError(
            "save_pretrained and push_to_hub take a mnistlite SpecNet (a model built "
            f"from a NetSpec, as every registered model is), got {type(model).__name__}"
        )
    return inner


def _check_accuracy(value: Any, what: str) -> float:
    number = float(value) if isinstance(value, numbers.Real) else float("nan")
    if isinstance(value, bool) or not math.isfinite(number) or not 0.0 <= number <= 100.0:
        raise MnistliteError(f"{what} must be a test accuracy in percent (0 to 100), got {value!r}")
    return number


def _history_accuracy(history: Any) -> float:
    """The final epoch's ``test_acc`` of a History, its dict, or a history.json path."""
    from mnistlite.training import History

    if isinstance(history, (str, os.PathLike)):
        path = Path(history)
        try:
            history = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise MnistliteError(f"cannot read a history from {path}: {err}") from None
    if isinstance(history, dict):
        history = History.from_dict(history)
    if not isinstance(history, History) or not history.epochs:
        raise MnistliteError(
            "history must be a History with at least one epoch, its to_dict() or the "
            f"path of a history.json, got {type(history).__name__}"
        )
    if "test_acc" not in history.final:
        raise MnistliteError("the history's last epoch has no 'test_acc' to report")
    return _check_accuracy(history.final["test_acc"], "the history's final test_acc")


def _bundled_match(model: SpecNet) -> tuple[str, Any] | None:
    """The registered name and weights entry whose spec and tensors ``model`` has."""
    state = model.state_dict()
    for name in list_models():
        try:
            enum = get_model_weights(name)
        except WeightsError:  # registered without bundled weights
            continue
        if not len(enum) or _spec_of(name) != model.spec:
            continue
        for member in enum:  # DEFAULT, an alias, is not listed again
            bundled = load_state_dict(member.value.path, member.value.sha256)
            same = bundled.keys() == state.keys() and all(
                bundled[k].shape == state[k].shape and torch.equal(bundled[k], state[k].cpu())
                for k in bundled
            )
            if same:
                return name, member
    return None


def _registered_name(spec: NetSpec) -> str | None:
    """The first registered model with bundled weights whose spec is ``spec``."""
    for name in list_models():
        try:
            enum = get_model_weights(name)
        except WeightsError:
            continue
        if len(enum) and spec == _spec_of(name):
            return name
    return None


def _spec_of(name: str) -> NetSpec | None:
    """The spec a registered builder makes by default (None if it makes no SpecNet)."""
    from mnistlite.models.registry import get_model

    try:
        return getattr(get_model(name), "spec", None)
    except MnistliteError:
        return None


def _facts(model: SpecNet, name: str | None, accuracy: Any, history: Any) -> _Facts:
    """Name and accuracy: given, else from bundled weights' metadata when they match."""
    if accuracy is not None and history is not None:
        raise MnistliteError("give accuracy= or history=, not both")
    source = "not known"
    if accuracy is not None:
        accuracy = _check_accuracy(accuracy, "accuracy")
        source = "given by the uploader"
    elif history is not None:
        accuracy = _history_accuracy(history)
        source = "the final epoch of the training run (not an epoch picked on the test set)"
    match = _bundled_match(model)
    if match is not None and accuracy is None:
        accuracy = match[1].meta["test_acc"]
        source = f"the metadata of mnistlite's bundled weights {match[1]}"
    if name is None:
        name = match[0] if match is not None else _registered_name(model.spec)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise MnistliteError(f"name must be a non-empty string, got {name!r}")
    return _Facts(
        name=name or f"mnistlite {describe_spec(model.spec)}",
        accuracy=accuracy,
        accuracy_source=source,
        num_params=params.count_parameters(model),
        macs=params.summary(model).total_macs,
    )


def _config(model: SpecNet, facts: _Facts) -> dict[str, Any]:
    from mnistlite import __version__

    config = {
        "library_name": "mnistlite",
        "format_version": FORMAT_VERSION,
        "mnistlite_version": __version__,
        "architecture": "SpecNet",
        "name": facts.name,
        "spec": spec_to_dict(model.spec),
        "num_params": facts.num_params,
        "macs": facts.macs,
        "normalization": {"mean": MNIST_MEAN, "std": MNIST_STD},
        "input_shape": [1, 28, 28],
        "num_classes": 10,
    }
    if facts.accuracy is not None:
        config["test_acc"] = facts.accuracy
    return config


def _yaml(value: Any, indent: int = 0) -> list[str]:
    """A small YAML writer for the front matter: dicts, lists and JSON scalars."""
    pad = " " * indent
    lines: list[str] = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        head = f"{pad}{key}:" if isinstance(value, dict) else f"{pad}-"
        if isinstance(item, (dict, list)) and item:
            if isinstance(value, list) and isinstance(item, dict):
                nested = _yaml(item, indent + 2)
                lines.append(f"{head} {nested[0].lstrip()}")
                lines.extend(nested[1:])
            else:
                lines.append(head)
                lines.extend(_yaml(item, indent + 2))
        else:
            lines.append(f"{head} {json.dumps(item)}")
    return lines


def _front_matter(facts: _Facts, license: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "library_name": "mnistlite",
        "license": license,
        "tags": ["mnistlite", "pytorch", "image-classification", "mnist", "safetensors"],
        "datasets": ["mnist"],
        "metrics": ["accuracy"],
        "pipeline_tag": "image-classification",
    }
    if facts.accuracy is not None:
        metric = {"type": "accuracy", "value": facts.accuracy, "name": "Test accuracy (%)"}
        task = {"type": "image-classification", "name": "Image Classification"}
        dataset = {"name": "MNIST", "type": "mnist", "split": "test"}
        result = {"task": task, "dataset": dataset, "metrics": [metric]}
        meta["model-index"] = [{"name": facts.name, "results": [result]}]
    return meta


def _model_card(model: SpecNet, facts: _Facts, license: str, repo_id: str | None) -> str:
    accuracy = "not measured" if facts.accuracy is None else f"{facts.accuracy:.2f} %"
    where = repo_id or "PATH_OR_REPO_ID"
    spec = json.dumps(spec_to_dict(model.spec), indent=2)
    return "\n".join(
        ["---", *_yaml(_front_matter(facts, license)), "---", "", f"# {facts.name}", ""]
        + [
            "A compact convolutional network for MNIST digits, saved with "
            "[mnistlite](https://mnistlite.readthedocs.io)'s `mnistlite.hub.save_pretrained`.",
            "",
            "| | |",
            "|---|---|",
            f"| Parameters | {facts.num_params:,} |",
            f"| Multiply-adds per image | {facts.macs:,} |",
            f"| MNIST test accuracy | {accuracy} |",
            f"| Accuracy source | {facts.accuracy_source} |",
            f"| Architecture | `{describe_spec(model.spec)}` |",
            "",
            "## Use",
            "",
            "```python",
            "import torch",
            "from mnistlite.hub import from_pretrained",
            "",
            f'model = from_pretrained("{where}")  # eval mode',
            "images = torch.rand(8, 1, 28, 28)  # (N, 1, 28, 28) in [0, 1], white digit on black",
            f"x = (images - {MNIST_MEAN}) / {MNIST_STD}",
            "digits = model(x).argmax(dim=1)",
            "```",
            "",
            'Install with `pip install "mnistlite[hub]"`. The network is mnistlite\'s '
            "`SpecNet` built from the spec in `config.json`:",
            "",
            "```json",
            spec,
            "```",
            "",
        ]
    )
