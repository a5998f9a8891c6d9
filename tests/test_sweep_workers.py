"""Sweeps on many processes: a real PostgreSQL server, a journal file, lost workers, bad input.

The ``postgres`` fixture starts a throwaway PostgreSQL cluster: ``initdb`` (as the
``postgres`` user when the tests run as root) into a temporary folder, then ``pg_ctl
start`` listening on a unix socket only, with ``fsync=off``; it is stopped and removed at
the end. Without PostgreSQL or its driver the tests are skipped, unless
``MNISTLITE_REQUIRE_DATA=1`` (as in CI): then they fail.
"""

from __future__ import annotations

import glob
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import REPO, require_data

from mnistlite import _studies, sweep
from mnistlite.cli import main

optuna = pytest.importorskip("optuna")
State = optuna.trial.TrialState

SECRET = "right-horse-staple"
WRONG = "wrong-battery-7"
#: Quick trials: 1 epoch on a slice, a small budget, fast heartbeats.
QUICK = ["--budget", "3000", "--epochs", "1", "--val-size", "256", "--heartbeat", "1"]
QUICK += ["--grace", "3", "--threads", "1"]


def _pg_program(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class Server:
    """A running throwaway cluster; ``url(db)`` is its unix-socket URL."""

    def __init__(self, socket_dir: Path) -> None:
        self.socket_dir = socket_dir
        self.count = 0

    def url(self, db: str, user: str = "postgres", password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql+psycopg2://{auth}@/{db}?host={self.socket_dir}"

    def execute(self, sql: str) -> None:
        import sqlalchemy

        engine = sqlalchemy.create_engine(
            self.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool
        )
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(sql))
        engine.dispose()

    def fresh(self) -> str:
        """A new empty database; returns its name."""
        self.count += 1
        name = f"db{self.count}"
        self.execute(f"CREATE DATABASE {name}")
        return name


@pytest.fixture(scope="module")
def postgres():
    initdb, pg_ctl = _pg_program("initdb"), _pg_program("pg_ctl")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        initdb = None
    if initdb is None or pg_ctl is None:
        message = "PostgreSQL (initdb, pg_ctl) or psycopg2 not found"
        if require_data():
            pytest.fail(f"{message}, and MNISTLITE_REQUIRE_DATA is set", pytrace=False)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="mnl-pg-"))  # short: a socket path has < 108 bytes
    user: dict = {}
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        import pwd

        entry = pwd.getpwnam("postgres")
        os.chown(base, entry.pw_uid, entry.pw_gid)
        user = {"user": entry.pw_uid, "group": entry.pw_gid}
    data = base / "data"

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, cwd=base, **user)

    started = time.perf_counter()
    run(initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
    (data / "pg_hba.conf").write_text("local all postgres trust\nlocal all all scram-sha-256\n")
    options = f"-k {base} -c listen_addresses='' -c fsync=off -c max_connections=100"
    run(pg_ctl, "-D", str(data), "-w", "-s", "-l", str(base / "log"), "-o", options, "start")
    server = Server(base)
    print(f"postgres started in {time.perf_counter() - started:.1f} s")
    try:
        server.execute(f"CREATE ROLE sweeper LOGIN PASSWORD '{SECRET}'")
        yield server
    finally:
        run(pg_ctl, "-D", str(data), "-s", "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def _worker(root: Path, url: str, trials: int, limit: int, name: str = "s") -> subprocess.Popen:
    """`mnistlite sweep` in a process of its own, importing this checkout."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    )
    argv = [sys.executable, "-m", "mnistlite", "sweep", *QUICK, "--trials", str(trials)]
    argv += ["--data", str(root), "--limit-train", str(limit), "--storage", url]
    argv += ["--study-name", name]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(procs: list[subprocess.Popen], timeout: float = 240) -> list[str]:
    errs = []
    for proc in procs:
        _, err = proc.communicate(timeout=timeout)
        errs.append(err)
    return errs


def _complete(study) -> list:
    return [t for t in study.get_trials(deepcopy=False) if t.state == State.COMPLETE]


def test_three_workers_fill_one_postgres_study_then_show_and_plot(
    postgres, mnist_root, tmp_path, capsys
):
    url = postgres.url(postgres.fresh())
    procs = [_worker(mnist_root, url, trials=5, limit=256) for _ in range(3)]
    errs = _finish(procs)
    assert [p.returncode for p in procs] == [0, 0, 0], errs
    study = optuna.load_study(study_name="s", storage=url)
    done = _complete(study)
    assert len(done) == 5  # counted over the study, not per worker
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    # each worker's share: recorded on its trials, and what it reported itself
    shares = {}
    for trial in done:
        shares[trial.user_attrs["worker"]] = shares.get(trial.user_attrs["worker"], 0) + 1
    reported = {}
    for proc, err in zip(procs, errs, strict=True):
        match = re.search(r"worker (\S+:(\d+)): (\d+) of the study's 5 complete trials", err)
        assert match and int(match.group(2)) == proc.pid, err
        reported[match.group(1)] = int(match.group(3))
    assert {w: n for w, n in reported.items() if n} == shares
    assert sum(reported.values()) == 5

    # anyone can read the study: no data, no training
    capsys.readouterr()
    out_dir = tmp_path / "plots"
    assert (
        main(["sweep", "--show", "--storage", url, "--study-name", "s", "--plot", str(out_dir)])
        == 0
    )
    out = capsys.readouterr().out
    assert "5 trained" in out and "trained by" in out
    for name in ("history.png", "parameters.png"):
        assert (out_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _claimed_running(study, pid: int):
    for trial in study.get_trials(deepcopy=False, states=(State.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("claimed") and attrs.get("worker", "").endswith(f":{pid}"):
            return trial
    return None


@pytest.mark.slow  # 17 s; the default suite keeps three workers filling one PostgreSQL study
def test_worker_killed_mid_trial_has_its_trial_retried(postgres, mnist_root):
    url = postgres.url(postgres.fresh())
    victim, survivor = (_worker(mnist_root, url, trials=6, limit=2048) for _ in range(2))
    study, target = None, None
    deadline = time.monotonic() + 120
    while target is None and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.05)
        try:
            study = study or optuna.load_study(study_name="s", storage=url)
        except KeyError:  # not created yet
            continue
        target = _claimed_running(study, victim.pid)
    assert target is not None, "the worker never started training a trial"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    [err] = _finish([survivor])
    assert survivor.returncode == 0, err
    study = optuna.load_study(study_name="s", storage=url)
    killed = study.trials[target.number]
    assert killed.state == State.FAIL
    done = _complete(study)
    assert len(done) == 6
    retries = [t for t in done if t.system_attrs.get("failed_trial") == target.number]
    assert len(retries) == 1
    assert retries[0].params == killed.params
    assert retries[0].user_attrs["worker"].endswith(f":{survivor.pid}")


def _open(url: str, ready, go) -> None:
    ready.wait()
    go.wait()
    settings = {"space": sweep.SEARCH_SPACE, "budget": 3000}
    _studies.open_study(optuna, url, "race", settings)


def test_workers_starting_together_on_a_fresh_database(postgres):
    context = multiprocessing.get_context("fork")
    for _ in range(10):
        url = postgres.url(postgres.fresh())
        go = context.Event()
        ready = context.Event()
        ready.set()
        procs = [context.Process(target=_open, args=(url, ready, go)) for _ in range(2)]
        for proc in procs:
            proc.start()
        go.set()
        for proc in procs:
            proc.join(60)
        assert [proc.exitcode for proc in procs] == [0, 0]
        [summary] = optuna.get_all_study_summaries(url)
        assert summary.study_name == "race"
        assert optuna.load_study(study_name="race", storage=url).user_attrs["budget"] == 3000


@pytest.mark.slow  # 9 s; the default suite runs workers on PostgreSQL
def test_workers_2_on_a_journal_file(mnist_root, tmp_path, capsys):
    url = f"journal:///{tmp_path / 'sweep.journal'}"
    argv = ["sweep", *QUICK, "--trials", "4", "--data", str(mnist_root), "--limit-train", "256"]
    assert main([*argv, "--storage", url, "--study-name", "j", "--workers", "2"]) == 0
    out = capsys.readouterr()
    assert "starting 2 workers of 1 torch thread(s) each" in out.err
    study = sweep.load_study(url, "j")
    done = _complete(study)
    assert len(done) == 4
    workers = {t.user_attrs["worker"] for t in done}
    assert all(not w.endswith(f":{os.getpid()}") for w in workers)  # trained in the workers
    assert "trained by" in out.out and "4 trained" in out.out


def _fails(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_bad_storage_and_study_input(postgres, tmp_path, capsys):
    base = ["sweep", "--budget", "3000", "--trials", "1", "--data", str(tmp_path)]
    # an unreachable server, and a wrong password: exit 2, the password masked
    err = _fails(
        [*base, "--storage", f"postgresql+psycopg2://postgres:{SECRET}@127.0.0.1:1/x"], capsys
    )
    assert "cannot open storage postgresql+psycopg2://postgres:***@127.0.0.1:1/x" in err
    assert SECRET not in err
    db = postgres.fresh()
    err = _fails([*base, "--storage", postgres.url(db, "sweeper", WRONG)], capsys)
    assert "password authentication failed" in err and WRONG not in err
    err = _fails(["sweep", "--show", "--storage", postgres.url(db, "sweeper", WRONG)], capsys)
    assert "password authentication failed" in err and WRONG not in err
    # not a URL at all
    err = _fails([*base, "--storage", f"postgres:{SECRET}@localhost/db"], capsys)
    assert "must be a database URL" in err and SECRET not in err
    # a study that exists with another budget, or another search space
    url = postgres.url(db, "postgres")
    study = optuna.create_study(study_name="s", storage=url)
    study.set_user_attr("budget", 5000)
    err = _fails([*base, "--storage", url, "--study-name", "s"], capsys)
    assert "budget=5000" in err and "budget=3000" in err and "another study_name=" in err
    assert "--study-name" in err  # the CLI names the option
    study = optuna.create_study(study_name="t", storage=url)
    study.set_user_attr("space", "another-space/9")
    err = _fails([*base, "--storage", url, "--study-name", "t"], capsys)
    assert "space=another-space/9" in err
    # no workers
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "--workers", "0"])
    assert exit_info.value.code == 2
    assert "--workers" in capsys.readouterr().err
    with pytest.raises(ValueError, match="workers"):
        sweep.run_sweep(budget=3000, trials=1, epochs=1, root=tmp_path, workers=0)
    # --plot without --show, and a journal file that is not there
    assert "goes with --show" in _fails([*base, "--plot", str(tmp_path)], capsys)
    err = _fails(["sweep", "--show", "--storage", f"journal:///{tmp_path}/none.journal"], capsys)
    assert "no sweep database" in err and not (tmp_path / "none.journal").exists()


def test_mask_url_hides_only_the_password():
    assert _studies.mask_url("postgresql+psycopg2://u:p@ss@h:5/db") == (
        "postgresql+psycopg2://u:***@h:5/db"
    )
    assert _studies.mask_url("sqlite:///a.db") == "sqlite:///a.db"
    assert _studies.mask_url("postgresql://u@/db?host=/tmp") == "postgresql://u@/db?host=/tmp"
