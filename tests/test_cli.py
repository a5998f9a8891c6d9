import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _helpers import run_cli as main

from mnistlite import cli

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "mnistlite", *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=cwd,
    )


@pytest.mark.parametrize("command", [[], ["train"], ["list"], ["summary"], ["eval"], ["sweep"]])
def test_help_at_every_level(command):
    code, out, _ = main(*command, "--help")
    assert code == 0 and "usage: mnistlite" in out


def test_console_script_and_module_agree():
    done = subprocess.run(["mnistlite", "list"], capture_output=True, text=True, env=ENV)
    assert done.returncode == 0
    assert done.stdout == run("list").stdout
    assert "step7" in done.stdout and "10,252" in done.stdout and "lite600" in done.stdout


def test_summary_table_and_json(capsys):
    assert cli.main(["summary", "step7"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 10,252" in out and "MACs per image: 1,668,660" in out
    assert cli.main(["summary", "step5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_macs"] == 1668660


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "nope"], "unknown recipe 'nope'"),
        (["train", "step7", "--epochs", "0"], "--epochs"),
        (["train", "step7", "--lr", "-1"], "--lr"),
        (["summary", "resnet"], "unknown model 'resnet'"),
        (["eval", "nope"], "unknown model 'nope'"),
        (["eval", "step1", "--weights", "DEFAULT"], "not bundled"),
    ],
)
def test_bad_input_exits_2_without_traceback(args, message, tmp_path):
    code, _, err = main(*args, "--data", tmp_path) if args[0] != "summary" else main(*args)
    assert code == 2
    assert message in err


def test_missing_dataset_creates_nothing(tmp_path):
    out = tmp_path / "out"
    done = run("train", "step7", "--data", tmp_path / "nodata", "--out", out)
    assert done.returncode == 2 and "MNIST not found" in done.stderr and "--download" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_out_checks_protect_existing_files(tmp_path):
    mnist_root = tmp_path / "nodata"  # --out is checked before the data is read
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    code, _, err = main("train", "step7", "--data", mnist_root, "--out", busy)
    assert code == 2 and "not empty" in err
    assert (busy / "notes.txt").read_text() == "keep me"

    code, _, err = main(
        "train", "step7", "--data", mnist_root, "--out", tmp_path / "new", "--resume"
    )
    assert code == 2 and "no checkpoint" in err
    assert not (tmp_path / "new").exists()

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "checkpoint.pt").write_bytes(b"\x00garbage")
    code, _, err = main("train", "step7", "--data", mnist_root, "--out", corrupt, "--resume")
    assert code == 2 and "corrupt" in err
    assert (corrupt / "checkpoint.pt").read_bytes() == b"\x00garbage"

    afile = tmp_path / "afile"
    afile.write_text("x")
    code, _, err = main("train", "step7", "--data", mnist_root, "--out", afile)
    assert code == 2 and "not a directory" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out(tmp_path):
    mnist_root = tmp_path / "nodata"  # --out is checked before the data is read
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    done = run("train", "step7", "--data", mnist_root, "--out", locked / "run")
    assert done.returncode == 2 and "not writable" in done.stderr


def test_out_under_a_file_is_refused_before_any_work(tmp_path):
    """Also as root (as CI runs): a folder that cannot be made is refused at once."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, _, err = main("train", "step7", "--data", tmp_path / "nodata", "--out", afile / "run")
    assert code == 2 and f"{afile} is a file" in err and "Traceback" not in err
    assert afile.read_text() == "x"


def test_unwritable_out_is_refused_as_root_too(tmp_path, monkeypatch):
    """The permission check itself, whoever runs it: os.access says no, the run is refused."""
    from mnistlite.runs import folder

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        folder.os,
        "access",
        lambda path, mode: False if Path(path) == locked else real_access(path, mode),
    )
    code, _, err = main("train", "step7", "--data", tmp_path / "nodata", "--out", locked / "run")
    assert code == 2 and "not writable" in err and f"no write permission on {locked}" in err
    assert not (locked / "run").exists()


def test_train_writes_outputs_and_resumes(tmp_path, mnist_root):
    out = tmp_path / "run"
    args = [
        "train",
        "step5",
        "--data",
        mnist_root,
        "--out",
        out,
        "--limit-train",
        "1024",
        "--batch-size",
        "64",
        "--lr",
        "0.02",
        "--no-progress",
    ]
    done = run(*args, "--epochs", "1", "--plot")
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == {
        "history.json",
        "checkpoint.pt",
        "model.pt",
        "history.png",
    }
    history = json.loads((out / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1]
    assert history["meta"]["recipe"]["lr"] == 0.02 and history["meta"]["recipe"]["batch_size"] == 64
    state = torch.load(out / "model.pt", weights_only=True)
    assert state["layers.0.0.weight"].shape == (8, 1, 3, 3)

    code, _, err = main(*args, "--epochs", "2", "--resume")  # one more epoch on top
    assert code == 0, err
    history = json.loads((out / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]

    code, _, err = main("train", "step7", "--data", mnist_root, "--out", out, "--resume")
    assert code == 2 and "recipe 'step5'" in err


@pytest.mark.slow
def test_step7_one_epoch_reaches_97(tmp_path, mnist_root):
    """`mnistlite train step7 --epochs 1` reaches >= 97% test accuracy."""
    done = run("train", "step7", "--epochs", "1", "--data", mnist_root, "--out", tmp_path / "r")
    assert done.returncode == 0, done.stderr
    history = json.loads((tmp_path / "r" / "history.json").read_text())
    assert history["epochs"][0]["test_acc"] >= 97.0


def test_resume_refuses_a_different_run(tmp_path, mnist_root):
    out = tmp_path / "run"
    base = [
        "train",
        "step5",
        "--data",
        mnist_root,
        "--out",
        out,
        "--limit-train",
        "256",
        "--epochs",
        "1",
        "--no-progress",
    ]
    code, _, err = main(*base)
    assert code == 0, err
    before = (out / "checkpoint.pt").read_bytes()
    for extra, word in [
        (["--lr", "0.05"], "lr"),
        (["--seed", "7"], "seed"),
        (["--batch-size", "64"], "batch_size"),
    ]:
        code, _, err = main(*base, "--resume", *extra)
        assert code == 2 and word in err and "different run" in err
    code, _, err = main(*base[:-3], "--limit-train", "512", "--epochs", "1", "--resume")
    assert code == 2 and "train_images" in err
    assert (out / "checkpoint.pt").read_bytes() == before


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nno network")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    code, _, err = main("eval", "step7", "--data", tmp_path, "--download")
    assert code == 2 and "could not download MNIST" in err and "MNIST/raw" in err


def test_eval_rejects_weights_of_another_shape(tmp_path, mnist_root):
    from mnistlite import models

    state = models.step5().state_dict()
    state["layers.0.0.weight"] = torch.zeros(3, 1, 3, 3)
    torch.save(state, tmp_path / "w.pt")
    code, _, err = main("eval", "step5", "--data", mnist_root, "--weights", tmp_path / "w.pt")
    assert code == 2 and "does not fit model step5" in err and "size mismatch" in err


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_and_eval_agree(tmp_path, mnist_root, monkeypatch, native):
    """bf16 auto follows the device; the logged test accuracy is what `eval` measures."""
    from mnistlite.training import devices

    monkeypatch.setattr(devices, "bf16_native", lambda device: native)
    out = tmp_path / "run"
    code, stdout, err = main(
        "train", "step4", "--data", mnist_root, "--out", out, "--limit-train", "512",
        "--epochs", "1", "--batch-size", "64", "--lr", "0.05", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert f"precision: {'bf16 autocast' if native else 'fp32'} (auto" in stdout
    history = json.loads((out / "history.json").read_text())
    assert history["meta"]["bf16"] is native
    code, stdout, err = main(
        "eval", "step4", "--data", mnist_root, "--weights", out / "model.pt", "--json"
    )
    assert code == 0, err
    result = json.loads(stdout)
    assert result["test_acc"] == history["epochs"][-1]["test_acc"]
    assert result["test_loss"] == pytest.approx(history["epochs"][-1]["test_loss"], rel=1e-12)


def test_bf16_can_be_forced_either_way(tmp_path, mnist_root, monkeypatch):
    from mnistlite.training import devices

    monkeypatch.setattr(devices, "bf16_native", lambda device: False)
    base = ["train", "step2", "--data", mnist_root, "--limit-train", "128", "--epochs", "1"]
    code, stdout, err = main(*base, "--out", tmp_path / "a", "--bf16", "--no-progress")
    assert code == 0, err
    assert "precision: bf16 autocast (forced" in stdout
    assert json.loads((tmp_path / "a" / "history.json").read_text())["meta"]["bf16"] is True
    monkeypatch.setattr(devices, "bf16_native", lambda device: True)
    code, stdout, err = main(*base, "--out", tmp_path / "b", "--no-bf16", "--no-progress")
    assert code == 0, err
    assert "precision: fp32 (forced" in stdout
    assert json.loads((tmp_path / "b" / "history.json").read_text())["meta"]["bf16"] is False


# -- exit codes: the error family, argparse, broken pipes -----------------------------


def test_only_the_error_family_becomes_exit_2(monkeypatch, capsys):
    """MnistliteError -> one line and exit 2; any other exception is a bug: it propagates."""
    from mnistlite.errors import MnistliteError

    def family(args):
        raise MnistliteError("bad input named here")

    monkeypatch.setattr(cli.commands, "_cmd_list", family)
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err == "mnistlite list: error: bad input named here\n"

    for bug in (ValueError("a plain ValueError is a bug"), OSError("disk"), KeyError("x")):

        def broken(args, bug=bug):
            raise bug

        monkeypatch.setattr(cli.commands, "_cmd_list", broken)
        with pytest.raises(type(bug)):
            cli.main(["list"])


def test_a_bug_shows_its_traceback(tmp_path):
    """In a real process, an exception outside the family prints a traceback (exit 1)."""
    code = (
        "import sys; from mnistlite import cli\n"
        "def broken(args): raise RuntimeError('a bug')\n"
        "cli.commands._cmd_list = broken\n"
        "sys.exit(cli.main(['list']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "RuntimeError: a bug" in done.stderr


def test_argparse_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train"])
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_list_into_a_closed_pipe_exits_quietly():
    """`mnistlite list | head -1`: the reader goes away; no error message, exit 141."""
    reader, writer = os.pipe()
    os.close(reader)  # nobody will read: the first write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mnistlite", "list"],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(writer)
    assert done.stderr == ""
    assert done.returncode == cli.EXIT_BROKEN_PIPE == 141


def test_list_piped_to_head_in_a_shell():
    if not shutil.which("sh") or not shutil.which("head"):
        pytest.skip("no POSIX shell")
    command = f"{shlex.quote(sys.executable)} -m mnistlite list | head -1"
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
    assert done.stdout == "models:\n"
    assert done.stderr == ""


@pytest.mark.parametrize("seed", ["-1e3", "abc", str(2**64), str(-(2**63) - 1)])
def test_sweep_seed_is_checked_like_train(seed, capsys):
    for command in ("train", "sweep"):
        args = (
            [command, "step7", "--seed", seed] if command == "train" else [command, "--seed", seed]
        )
        with pytest.raises(SystemExit) as info:
            cli.main(args)
        assert info.value.code == 2
        assert "--seed" in capsys.readouterr().err


def test_sweep_command_exists_without_optuna(monkeypatch, capsys):
    """The parser is built in cli.py; Optuna is imported only when a sweep runs."""
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(SystemExit) as info:
        cli.main(["sweep", "--help"])
    assert info.value.code == 0
    assert "--budget" in capsys.readouterr().out
    assert cli.main(["sweep", "--budget", "5000"]) == 2
    assert 'pip install "mnistlite[sweep]"' in capsys.readouterr().err
