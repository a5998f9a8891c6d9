"""Share models through the Hugging Face Hub: a folder of spec, weights and model card.

:func:`save_pretrained` writes a model into a folder the Hub understands::

    config.json          the network's spec (models are specs over blocks) and its size
    model.safetensors    the weights (mnistlite.models.save_weights)
    README.md            a model card: YAML front matter (library_name, tags, license,
                         datasets, metrics, model-index) and the parameters, multiply-adds
                         and test accuracy

:func:`from_pretrained` reads such a folder, or downloads it first from a Hub repository,
and gives back the same network with the same weights (identical logits), any spec,
bundled or custom. :func:`push_to_hub` uploads the folder with
``huggingface_hub.HfApi``.

Writing and reading a local folder needs only the core install; a repository id and
:func:`push_to_hub` need the ``hub`` extra (``pip install "mnistlite[hub]"``).

>>> import tempfile
>>> from mnistlite import hub, models
>>> folder = hub.save_pretrained(models.lite1k(weights="DEFAULT"), tempfile.mkdtemp() + "/lite1k")
>>> sorted(p.name for p in folder.iterdir())
['README.md', 'config.json', 'model.safetensors']
>>> hub.from_pretrained(folder).spec == models.LITE1K
True
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from mnistlite.atomic import atomic_write, save_json
from mnistlite.errors import MissingExtraError, MnistliteError, WeightsError
from mnistlite.hub_card import (  # noqa: F401
    FORMAT_VERSION,
    _bundled_match,
    _check_accuracy,
    _config,
    _Facts,
    _facts,
    _front_matter,
    _history_accuracy,
    _model_card,
    _registered_name,
    _spec_of,
    _spec_text,
    _unwrap,
    _yaml,
)
from mnistlite.models.spec import SpecNet, describe_spec, spec_from_dict
from mnistlite.models.weights import (
    load_state_dict,
    load_weights_file,
    safetensors_metadata,
    save_weights,
)

__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "INSTALL_HINT",
    "MODEL_CARD_NAME",
    "WEIGHTS_NAME",
    "from_pretrained",
    "push_to_hub",
    "save_pretrained",
]

#: The files of a saved model.
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MODEL_CARD_NAME = "README.md"
#: The install line for the optional dependency.
INSTALL_HINT = 'pip install "mnistlite[hub]"'
#: The ``model.safetensors`` header key holding the spec the weights were saved with.
SPEC_KEY = "mnistlite.spec"


def _require_hub() -> ModuleType:
    """Import ``huggingface_hub``, or fail with a message naming the extra."""
    try:
        import huggingface_hub
    except ImportError as err:
        raise MissingExtraError(
            "the Hugging Face Hub needs the 'mnistlite[hub]' extra (huggingface_hub), which "
            f"is not installed: {INSTALL_HINT}"
        ) from err
    return huggingface_hub


def _write_folder(folder: Path, model: SpecNet, facts: _Facts, license: str, repo: Any) -> None:
    save_json(folder / CONFIG_NAME, _config(model, facts))
    save_weights(model, folder / WEIGHTS_NAME, {SPEC_KEY: _spec_text(model.spec)})
    card = _model_card(model, facts, license, repo).encode()
    atomic_write(folder / MODEL_CARD_NAME, lambda handle: handle.write(card))


def _check_target(target: Path, overwrite: bool) -> None:
    here = Path.cwd().absolute()
    if target == target.parent or target == here or target in here.parents:
        raise MnistliteError(f"cannot save into {target}, the current folder or above it")
    if target.exists() and not target.is_dir():
        raise MnistliteError(f"{target} exists and is not a folder; give a folder to save into")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise MnistliteError(
            f"{target} exists and is not empty; pass overwrite=True to replace it "
            "(everything in it is deleted), or give a new folder"
        )


def _new_sibling(target: Path, kind: str) -> Path:
    """Make an empty hidden folder beside ``target`` (with the usual, umask's, mode)."""
    while True:
        path = target.parent / f".{target.name}.{secrets.token_hex(4)}.{kind}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished ``tmp`` folder to ``target``, replacing what is there."""
    old = None
    if target.exists():
        old = _new_sibling(target, "old")
        os.replace(target, old / target.name)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            os.replace(old / target.name, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_pretrained(
    model: nn.Module,
    save_directory: str | os.PathLike[str],
    *,
    name: str | None = None,
    accuracy: float | None = None,
    history: Any = None,
    license: str = "mit",
    repo_id: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as a folder: ``config.json``, ``model.safetensors``, ``README.md``.

    Written under a temporary name and renamed into place when whole: never half-written.

    Example:
        >>> import tempfile
        >>> from mnistlite import hub, models
        >>> path = tempfile.mkdtemp() + "/lite600"
        >>> folder = hub.save_pretrained(models.lite600(weights="DEFAULT"), path)
        >>> (folder / "README.md").read_text().splitlines()[1]
        'library_name: "mnistlite"'

    Args:
        model: A :class:`~mnistlite.models.SpecNet` (any registered model, or one built
            from your own :class:`~mnistlite.models.NetSpec`), compiled or not.
        save_directory: The folder to write; it must not exist, or be empty (see
            ``overwrite``). Its parent folders are made.
        name: The model's name in the card; by default the registered model whose
            bundled weights or spec it has, else its spec described.
        accuracy: Its test accuracy in percent, for the card. By default the bundled
            weights' measured accuracy when the model holds exactly those weights.
        history: Instead of ``accuracy``: a :class:`~mnistlite.training.History`, its
            ``to_dict()`` or the path of a run's ``history.json``; its final epoch's
            ``test_acc`` is reported.
        license: The license identifier in the card's front matter.
        repo_id: The Hub repository meant, shown in the card's example.
        overwrite: Replace a folder that is not empty (everything in it is deleted).

    Returns:
        The folder, as a :class:`~pathlib.Path`.

    Raises:
        MnistliteError: If ``model`` is not a SpecNet, the folder is not empty and
            ``overwrite`` is False, or the accuracy or history is not usable.
    """
    spec_net = _unwrap(model)
    target = Path(os.path.normpath(Path(save_directory).expanduser().absolute()))
    _check_target(target, overwrite)
    facts = _facts(spec_net, name, accuracy, history)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_sibling(target, "tmp")
    try:
        _write_folder(tmp, spec_net, facts, license, repo_id)
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise MnistliteError(
            f"{folder} holds no {CONFIG_NAME}; expected a folder written by "
            f"mnistlite.hub.save_pretrained ({CONFIG_NAME}, {WEIGHTS_NAME})"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise MnistliteError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(config, dict) or not isinstance(config.get("spec"), dict):
        raise MnistliteError(
            f"{path} is not an mnistlite config: expected a JSON object with a 'spec' "
            "object (the network, as mnistlite.models.spec_to_dict writes it)"
        )
    version = config.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise MnistliteError(
            f"{path} has format_version {version!r}; this mnistlite reads up to "
            f"{FORMAT_VERSION}: upgrade mnistlite"
        )
    return config


def _load_folder(folder: Path) -> SpecNet:
    config = _read_config(folder)
    try:
        spec = spec_from_dict(config["spec"])
        model = SpecNet(spec)
    except (MnistliteError, TypeError) as err:
        raise MnistliteError(f"{folder / CONFIG_NAME}: not a valid network spec: {err}") from None
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise WeightsError(f"{folder} holds no {WEIGHTS_NAME} beside its {CONFIG_NAME}")
    load_state_dict(weights)  # a corrupt or truncated file fails here, with its own message
    saved = safetensors_metadata(weights).get(SPEC_KEY)
    if saved is not None and saved != _spec_text(spec):
        raise WeightsError(
            f"{weights} was saved from another network than {folder / CONFIG_NAME} describes: "
            f"weights of {_describe_saved(saved)}, config of {describe_spec(spec)}"
        )
    try:
        load_weights_file(model, weights, config.get("name") or describe_spec(spec))
    except WeightsError as err:
        raise WeightsError(f"{CONFIG_NAME} and {WEIGHTS_NAME} do not match: {err}") from None
    return model.eval()


def _describe_saved(text: str) -> str:
    try:
        return describe_spec(spec_from_dict(json.loads(text)))
    except (MnistliteError, TypeError, ValueError):
        return "an unreadable spec"


def _download(repo_id: str, **options: Any) -> Path:
    """``snapshot_download`` of the files a saved model has."""
    hf = _require_hub()
    from huggingface_hub.utils import (
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from mnistlite import __version__

    try:
        folder = hf.snapshot_download(
            repo_id,
            allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, MODEL_CARD_NAME],
            library_name="mnistlite",
            library_version=__version__,
            **options,
        )
    except HFValidationError:
        raise MnistliteError(
            f"{repo_id!r} is neither a folder nor a Hub repository id ('owner/name')"
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError) as err:
        raise MnistliteError(f"no Hub repository {repo_id!r}: {type(err).__name__}") from None
    except LocalEntryNotFoundError:
        raise MnistliteError(
            f"{repo_id!r} is not in the local Hugging Face cache and could not be downloaded "
            "(no network, HF_HUB_OFFLINE=1 or local_files_only=True); give a folder or go online"
        ) from None
    return Path(folder)


def _looks_like_repo_id(repo_or_dir: str | os.PathLike[str]) -> bool:
    """Whether a name that is no folder here can be a Hub id (``owner/name``, not a path)."""
    text = str(repo_or_dir)
    windows_path = os.sep != "/" and os.sep in text
    return not (
        isinstance(repo_or_dir, os.PathLike)
        or text.startswith((".", "/", "~"))
        or text.count("/") > 1
        or windows_path
    )


def from_pretrained(
    repo_or_dir: str | os.PathLike[str],
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
) -> SpecNet:
    """Load a model written by :func:`save_pretrained`, from a folder or a Hub repository.

    A folder is read as it is (no network, no ``huggingface_hub`` needed). Anything else
    is taken as a repository id (``"owner/name"``) and fetched with
    ``huggingface_hub.snapshot_download`` into the Hugging Face cache (only
    ``config.json``, ``model.safetensors`` and ``README.md``).

    Example:
        >>> import tempfile
        >>> from mnistlite import hub, models
        >>> folder = hub.save_pretrained(models.lite600(), tempfile.mkdtemp() + "/m")
        >>> model = hub.from_pretrained(folder)
        >>> model.training, model.spec == models.LITE600
        (False, True)

    Args:
        repo_or_dir: A folder, or a Hub repository id.
        revision: A branch, tag or commit of the repository.
        cache_dir: The Hugging Face cache to use instead of the default one.
        token: A Hub token, for private repositories.
        local_files_only: Use the cache only, never the network (as ``HF_HUB_OFFLINE=1``).
        force_download: Download again even if cached.

    Returns:
        The :class:`~mnistlite.models.SpecNet` of ``config.json``'s spec with the
        weights loaded, on the CPU, in eval mode.

    Raises:
        MissingExtraError: For a repository id when ``huggingface_hub`` is missing
            (``pip install "mnistlite[hub]"``).
        MnistliteError: If there is no such folder or repository, or ``config.json`` is
            missing, not JSON, or not a valid spec.
        ~mnistlite.errors.WeightsError: If ``model.safetensors`` is missing, corrupt,
            or holds the weights of another network than ``config.json`` describes.
    """
    path = Path(repo_or_dir).expanduser()
    if path.is_dir():
        return _load_folder(path)
    if path.exists():
        raise MnistliteError(f"{path} is a file; give the folder save_pretrained wrote")
    if not _looks_like_repo_id(repo_or_dir):
        raise MnistliteError(f"no folder {path}; a Hub repository id is 'owner/name'")
    options = {"revision": revision, "cache_dir": cache_dir, "token": token}
    options.update(local_files_only=local_files_only, force_download=force_download)
    return _load_folder(_download(str(repo_or_dir), **options))


def push_to_hub(
    model: nn.Module,
    repo_id: str,
    *,
    name: str | None = None,
    accuracy: float | None = None,
    history: Any = None,
    license: str = "mit",
    private: bool | None = None,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str = "Upload mnistlite model",
    create_pr: bool = False,
) -> str:
    """Save ``model`` with :func:`save_pretrained` and upload it to a Hub repository.

    Creates the repository if needed and uploads the folder in one commit
    (``HfApi.upload_folder``). Log in first with ``hf auth login``, or pass ``token``.
    Example (needs a Hub account and the network)::

        url = hub.push_to_hub(models.lite1k(weights="DEFAULT"), "your-name/mnistlite-lite1k")

    Args:
        model: As for :func:`save_pretrained`.
        repo_id: The repository, ``"owner/name"``.
        name: As for :func:`save_pretrained`.
        accuracy: As for :func:`save_pretrained`.
        history: As for :func:`save_pretrained`.
        license: As for :func:`save_pretrained`.
        private: Make a new repository private (None: the Hub's default).
        token: A Hub token with write access (None: the logged-in one).
        revision: The branch to commit to (None: the default branch).
        commit_message: The commit's message.
        create_pr: Open a pull request instead of committing to the branch.

    Returns:
        The URL of the commit (or of the pull request).

    Raises:
        MissingExtraError: If ``huggingface_hub`` is missing.
        MnistliteError: For a model or accuracy :func:`save_pretrained` refuses.
    """
    hf = _require_hub()
    from mnistlite import __version__

    with tempfile.TemporaryDirectory(prefix="mnistlite-hub-") as tmp:
        folder = save_pretrained(
            model, Path(tmp) / "model", name=name, accuracy=accuracy, history=history,
            license=license, repo_id=repo_id,
        )  # fmt: skip
        api = hf.HfApi(token=token, library_name="mnistlite", library_version=__version__)
        api.create_repo(repo_id, private=private, repo_type="model", exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id, folder_path=folder, repo_type="model", revision=revision,
            commit_message=commit_message, create_pr=create_pr,
        )  # fmt: skip
    return str(getattr(info, "pr_url", None) or getattr(info, "commit_url", info))
