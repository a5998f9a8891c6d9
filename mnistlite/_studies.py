"""Optuna studies that many processes share: storage URLs, safe creation, lost workers.

This is the plumbing under :mod:`mnistlite.sweep`; it imports Optuna only through the
module object its callers pass in, so importing it never requires Optuna.

* **Storages.** ``sqlite:///FILE``, ``postgresql+psycopg2://…``, ``postgresql+psycopg://…``
  or any other SQLAlchemy URL opens an :class:`optuna.storages.RDBStorage`;
  ``journal:///FILE`` opens an :class:`optuna.storages.JournalStorage` on a journal file.
  A password in a URL never appears in a message: :func:`mask_url`.
* **Creating a study safely.** Optuna's schema set-up races when several processes open
  a fresh database together (optuna#1092). On PostgreSQL the set-up has one owner at a
  time: each process takes a PostgreSQL advisory lock before it creates the tables and
  the study and checks the study's settings, and releases it at once. On other
  databases a failed set-up is retried a few times after a random pause.
* **Lost workers.** RDB storages get heartbeats (``heartbeat_interval``,
  ``grace_period``): a trial whose process stopped beating is marked ``FAIL`` and a
  :class:`~optuna.storages.RetryFailedTrialCallback` queues the same parameters again,
  for any surviving worker. A journal file has no heartbeats; there a running trial
  whose process (on this machine) no longer exists is failed and queued the same way.
"""

from __future__ import annotations

import inspect
import os
import random
import re
import socket
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from mnistlite.errors import MnistliteError

#: The key of the PostgreSQL advisory lock held while a study is set up.
_SETUP_LOCK = 0x6D6E6973  # "mnis"

#: How often a queued retry of a lost trial is retried again, at most.
MAX_RETRY = 3

#: The examples a bad storage URL's message suggests.
URL_EXAMPLES = "sqlite:///FILE, journal:///FILE or postgresql+psycopg2://USER:PASSWORD@HOST/DB"


def worker_id() -> str:
    """This process as ``host:pid``: what trials record in their ``worker`` attribute."""
    return f"{socket.gethostname()}:{os.getpid()}"


def mask_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (also in a malformed URL)."""
    text = str(url)
    if "://" in text:
        return re.sub(r"(://[^:/@?#\s]*:)[^\s/?#]*@", r"\1***@", text)
    return re.sub(r"(:)[^:\s]*@", r"\1***@", text)


def _scrub(text: str, url: str) -> str:
    """``text`` with the URL's password (and the URL itself) masked."""
    text = text.replace(url, mask_url(url))
    match = re.search(r"://[^:/@?#\s]*:([^\s/?#]*)@", url)
    if match and match.group(1):
        text = text.replace(match.group(1), "***")
    return mask_url(text)


def _local_path(url: str, scheme: str) -> Path | None:
    """The file of a ``SCHEME:///PATH`` URL (None for other URLs, or SQLite's memory)."""
    prefix = f"{scheme}:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def check_url(url: Any) -> None:
    """Raise an error unless ``url`` looks like a storage URL (``scheme://…``)."""
    if not isinstance(url, str) or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
        raise MnistliteError(
            f"storage must be a database URL or a journal file's URL, such as {URL_EXAMPLES}; "
            f"got {mask_url(url)!r}"
        )


def is_postgresql(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (any driver)."""
    return url.split("://", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def _retry_callback(optuna: ModuleType) -> Any:
    storages = optuna.storages
    cls = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
    cls = cls or storages.RetryFailedTrialCallback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(max_retry=MAX_RETRY)


def _rdb_storage(
    optuna: ModuleType, url: str, heartbeat_interval: int | None, grace_period: int | None
) -> Any:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    elif is_postgresql(url):
        kwargs["engine_kwargs"] = {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    if heartbeat_interval is not None:
        accepted = inspect.signature(optuna.storages.RDBStorage).parameters
        key = "heartbeat_stale_trial_callback"
        key = key if key in accepted else "failed_trial_callback"
        kwargs.update(
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            **{key: _retry_callback(optuna)},
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, **kwargs)


def _journal_storage(optuna: ModuleType, path: Path) -> Any:
    journal = optuna.storages.journal
    return journal.JournalStorage(journal.JournalFileBackend(str(path)))


def _storage_error(url: str, err: BaseException) -> MnistliteError:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    first = next((line for line in lines if not line.startswith("(Background")), repr(err))
    return MnistliteError(f"cannot open storage {mask_url(url)}: {_scrub(first, url)}")


def _local_storage(optuna: ModuleType, url: str, create: bool) -> Any:
    """A journal file's storage; None for a database URL (SQLite files checked here too)."""
    shown = mask_url(url)
    for scheme in ("journal", "sqlite"):
        path = _local_path(url, scheme)
        if path is None:
            continue
        if not create and not path.is_file():
            raise MnistliteError(f"no sweep database at {path} (from storage {shown})")
        if not path.parent.is_dir():
            raise MnistliteError(f"storage {shown}: the folder {path.parent} does not exist")
        if scheme == "journal":
            return _journal_storage(optuna, path)
    if url.startswith("journal:"):
        raise MnistliteError(f"storage {shown}: a journal URL is journal:///FILE")
    return None


def open_storage(
    optuna: ModuleType,
    url: str,
    *,
    create: bool = True,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
) -> Any:
    """Open the storage that ``url`` names.

    Args:
        optuna: The ``optuna`` module.
        url: ``journal:///FILE``, ``sqlite:///FILE`` or any SQLAlchemy database URL.
        create: Whether a missing SQLite or journal file may be created.
        heartbeat_interval: Seconds between heartbeats of a running trial (RDB storages;
            None for none).
        grace_period: Seconds without a heartbeat after which a running trial is failed
            and retried.

    Raises:
        MnistliteError: For a malformed URL, a missing file or folder, a missing
            database driver, or a database that refuses the connection; the password
            is masked.
    """
    check_url(url)
    local = _local_storage(optuna, url, create)
    if local is not None:
        return local
    from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError

    shown = mask_url(url)

    error: BaseException | None = None
    for attempt in range(5):
        try:
            return _rdb_storage(optuna, url, heartbeat_interval, grace_period)
        except ArgumentError as err:
            raise MnistliteError(
                f"storage {shown} is not a database URL ({URL_EXAMPLES}): {_scrub(str(err), url)}"
            ) from None
        except ImportError as err:
            driver = url.split("://", 1)[0]
            hint = " (pip install psycopg2-binary)" if is_postgresql(url) else ""
            raise MnistliteError(
                f"storage {shown}: the database driver for {driver!r} is not installed{hint}: "
                f"{_scrub(str(err.__cause__ or err), url)}"
            ) from None
        except (OperationalError, IntegrityError) as err:
            error = err
            if is_postgresql(url) and isinstance(err, OperationalError):
                break  # a server that refuses us now will refuse us again
            # processes opening a fresh SQLite file together race to create its tables
            time.sleep(0.1 + random.random() * 0.5 * (attempt + 1))
        except SQLAlchemyError as err:
            error = err
            break
    raise _storage_error(url, error) from None


class _SetupLock:
    """Hold a PostgreSQL advisory lock (a no-op for other storages)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: Any = None

    def __enter__(self) -> _SetupLock:
        if not is_postgresql(self.url):
            return self
        import sqlalchemy
        from sqlalchemy.exc import SQLAlchemyError

        try:
            engine = sqlalchemy.create_engine(
                self.url,
                poolclass=sqlalchemy.pool.NullPool,
                connect_args={"connect_timeout": 10},
            )
            self.connection = engine.connect()
            self.connection.execute(sqlalchemy.text(f"SELECT pg_advisory_lock({_SETUP_LOCK})"))
        except ImportError as err:
            raise MnistliteError(
                f"storage {mask_url(self.url)}: the PostgreSQL driver is not installed "
                f"(pip install psycopg2-binary): {_scrub(str(err), self.url)}"
            ) from None
        except (SQLAlchemyError, ValueError) as err:
            if isinstance(err, sqlalchemy.exc.ArgumentError):
                raise MnistliteError(
                    f"storage {mask_url(self.url)} is not a database URL ({URL_EXAMPLES})"
                ) from None
            raise _storage_error(self.url, err) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.connection is not None:
            self.connection.close()  # ends the session, and with it the lock


def open_study(
    optuna: ModuleType,
    url: str,
    name: str,
    settings: dict[str, Any],
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    pruner: Any = None,
    direction: str = "maximize",
) -> Any:
    """Create or load the study ``name``; refuse one whose stored settings differ.

    The settings are stored as the study's user attributes by whoever creates it. On
    PostgreSQL the whole set-up (tables, study, settings) runs under an advisory lock,
    so processes starting together on a fresh database take turns.

    Raises:
        MnistliteError: If the storage cannot be opened, or the study exists with other
            settings (the message names them and asks for another study name).
    """
    shown = mask_url(url)
    with _SetupLock(url):
        storage = open_storage(
            optuna, url, heartbeat_interval=heartbeat_interval, grace_period=grace_period
        )
        from sqlalchemy.exc import SQLAlchemyError

        for attempt in range(5):
            try:
                study = optuna.create_study(
                    storage=storage,
                    study_name=name,
                    direction=direction,
                    load_if_exists=True,
                    pruner=pruner,
                )
                break
            except SQLAlchemyError as err:
                if attempt == 4:
                    raise _storage_error(url, err) from None
                time.sleep(0.1 + random.random() * 0.5 * (attempt + 1))
        saved = {key: study.user_attrs[key] for key in settings if key in study.user_attrs}
        differ = [key for key, value in saved.items() if value != settings[key]]
        if differ:
            was = ", ".join(f"{key}={value}" for key, value in saved.items())
            now = ", ".join(f"{key}={settings[key]}" for key in differ)
            raise MnistliteError(
                f"study {name!r} in {shown} was run with {was}; this run has {now}, so the "
                "scores would not compare: give another study_name=..."
            )
        for key, value in settings.items():
            if key not in saved:
                study.set_user_attr(key, value)
    return study


def has_heartbeat(study: Any) -> bool:
    """Whether the study's storage fails trials whose process stopped beating."""
    storage = getattr(study, "_storage", None)
    storage = getattr(storage, "_backend", storage)  # optuna wraps RDBStorage in a cache
    return getattr(storage, "heartbeat_interval", None) is not None


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child that nobody has waited for yet is a zombie: gone as well
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def fail_lost_trials(optuna: ModuleType, study: Any) -> list[int]:
    """Fail the running trials whose worker is gone, and queue them again.

    With heartbeats, Optuna's own check does it (a trial is lost once it missed its
    grace period). Without (a journal file), a running trial counts as lost when its
    ``worker`` attribute names this machine and that process no longer exists.

    Returns:
        The numbers of the trials failed by this call.
    """
    state = optuna.trial.TrialState
    if has_heartbeat(study):
        before = {t.number for t in study.get_trials(deepcopy=False, states=(state.RUNNING,))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        after = {t.number for t in study.get_trials(deepcopy=False, states=(state.RUNNING,))}
        return sorted(before - after)
    host = socket.gethostname()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(state.RUNNING,)):
        owner = str(trial.user_attrs.get("worker", ""))
        where, _, pid = owner.rpartition(":")
        if where != host or not pid.isdigit() or not _process_gone(int(pid)):
            continue
        try:
            if not study._storage.set_trial_state_values(trial._trial_id, state=state.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another process failed it first
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            _retry_callback(optuna)(study, study._storage.get_trial(trial._trial_id))
        failed.append(trial.number)
    return failed
