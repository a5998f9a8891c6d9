"""Many seeds in one process: StackedModel, StackedBatches, recipes.train(seeds=...), --seeds.

And the step function shared by the eager and the CUDA-graph paths (``sgd_update``,
``Trainer.train_step``), ``--device auto`` and ``cuda_graphs``, all on the CPU.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
import torch.nn.functional as F
from _helpers import fake, run_cli

from mnistlite import data, models, recipes
from mnistlite import stacked as stacked_module
from mnistlite.errors import MnistliteError, ResumeMismatchError
from mnistlite.stacked import StackedModel
from mnistlite.training import Callback, Trainer, load_checkpoint, resolve_device, sgd_update

# --- the stacked model -----------------------------------------------------------------


def _members(name, seeds):
    out = []
    for seed in seeds:
        torch.manual_seed(seed)
        out.append(models.get_model(name))
    return out


@pytest.mark.parametrize("mode", ["loop", "vmap", "grouped"])
def test_stacked_forward_and_gradients_equal_each_member(mode):
    members = _members("lite1k", [1, 2, 3])  # BatchNorm, no dropout
    stacked = StackedModel(_members("lite1k", [1, 2, 3]), mode=mode)
    x = torch.randn(3, 16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (3, 16), generator=torch.Generator().manual_seed(1))
    out = stacked(x)
    assert out.shape == (3, 16, 10)
    F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none").view(3, 16).mean(
        1
    ).sum().backward()
    for s, member in enumerate(members):
        single = member(x[s])
        F.cross_entropy(single, y[s]).backward()
        torch.testing.assert_close(out[s], single, atol=1e-5, rtol=1e-4)
        grads = {n: p.grad for n, p in member.named_parameters()}
        for name in stacked.names:
            stacked_grad = getattr(stacked, name.replace(".", "__")).grad[s]
            torch.testing.assert_close(stacked_grad, grads[name], atol=1e-5, rtol=1e-4)
        state = stacked.member_state_dict(s)  # running statistics updated per member
        for name, value in member.state_dict().items():
            torch.testing.assert_close(state[name], value, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("mode", ["vmap", "grouped"])
def test_stacked_dropout_draws_differ_between_members(mode):
    stacked = StackedModel(_members("step7", [1, 1]), mode=mode).eval()  # same weights
    x = torch.randn(1, 8, 1, 28, 28).expand(2, 8, 1, 28, 28)
    out = stacked(x)
    torch.testing.assert_close(out[0], out[1])
    out = stacked.train()(x)
    assert not torch.allclose(out[0], out[1])  # dropout: different masks per member


def _without_dropout(network):
    for module in network.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = module.effective_p = 0.0
    return network


@pytest.mark.parametrize("name", models.list_models())
def test_grouped_equals_the_loop_for_every_network(name):
    """Every registered network runs grouped: same logits, gradients and running stats."""
    assert stacked_module.grouped_supported(models.get_model(name))
    members = [_without_dropout(m) for m in _members(name, [1, 2])]
    x = torch.randn(2, 4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (2, 4), generator=torch.Generator().manual_seed(1))
    runs = []
    for mode in ("loop", "grouped"):
        stacked = StackedModel(members, mode=mode)
        out = stacked(x)
        F.cross_entropy(out.flatten(0, 1), y.flatten()).backward()
        runs.append((out, stacked))
    (out_loop, loop), (out_grouped, grouped) = runs
    assert out_grouped.shape == (2, 4, 10)
    torch.testing.assert_close(out_grouped, out_loop, atol=1e-5, rtol=1e-4)
    for a, b in zip(loop.parameters(), grouped.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-5, rtol=1e-4)
    for a, b in zip(loop.buffers(), grouped.buffers(), strict=True):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5)  # incl. the batch counts
    grouped.eval()
    torch.testing.assert_close(grouped(x), loop.eval()(x), atol=1e-5, rtol=1e-4)


class _LinearNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4 * 26 * 26, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def test_grouped_refuses_layers_that_mix_members_and_auto_falls_back_to_vmap():
    assert not stacked_module.grouped_supported(_LinearNet())
    with pytest.raises(MnistliteError, match="'grouped' cannot run this network: _LinearNet is"):
        StackedModel([_LinearNet(), _LinearNet()], mode="grouped")  # its own forward
    head = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with pytest.raises(MnistliteError, match="a Flatten that is not the last layer"):
        StackedModel([head, head], mode="grouped")
    assert not stacked_module.grouped_supported(torch.nn.Sequential(torch.nn.Linear(4, 2)))
    mixed = StackedModel([_LinearNet(), _LinearNet()])
    assert mixed.mode_for("cuda") == "vmap" and mixed.mode_for("cpu") == "loop"
    assert mixed(torch.randn(2, 3, 1, 28, 28)).shape == (2, 3, 10)
    depthwise = StackedModel(_members("lite600", [1, 2]))
    assert depthwise.mode_for("cuda:0") == "grouped" and depthwise.resolved_mode() == "grouped"
    dense = StackedModel(_members("step7", [1, 2]))
    assert dense.mode_for("cuda") == "grouped" and dense.mode_for("cpu") == "loop"
    assert StackedModel(_members("lite600", [1, 2]), mode="vmap").mode_for("cuda") == "vmap"


def test_cli_stack_modes_are_the_library_s():
    from mnistlite import cli

    assert set(cli.STACK_MODES) == set(stacked_module.STACK_MODES)


def test_stacked_model_bad_input():
    with pytest.raises(MnistliteError, match="at least one member"):
        StackedModel([])
    with pytest.raises(MnistliteError, match="another architecture"):
        StackedModel([models.get_model("lite600"), models.get_model("lite1k")])
    with pytest.raises(MnistliteError, match="mode must be"):
        StackedModel(_members("lite600", [1]), mode="fast")
    stacked = StackedModel(_members("lite600", [1, 2]))
    with pytest.raises(MnistliteError, match=r"takes input \(S=2"):
        stacked(torch.zeros(3, 4, 1, 28, 28))
    with pytest.raises(MnistliteError, match="member index"):
        stacked.member_state_dict(2)


def test_member_state_dict_round_trip():
    members = _members("lite600", [4, 5])
    stacked = StackedModel(members)
    for s, member in enumerate(members):
        state = stacked.member_state_dict(s)
        assert list(state) == list(member.state_dict())
        assert all(torch.equal(state[k], v) for k, v in member.state_dict().items())
    stacked.load_member_state_dict(0, members[1].state_dict())
    assert all(
        torch.equal(stacked.member_state_dict(0)[k], v) for k, v in members[1].state_dict().items()
    )


# --- batches: every member sees its single run's images, in its order ---------------------


@pytest.mark.parametrize("shared", [True, False])
def test_stacked_batches_equal_single_runs(shared):
    augment = data.Augment(rotation=10.0, translate=0.1, scale=(0.9, 1.1), interpolation="bilinear")
    sets = [fake(200, 0)] * 3 if shared else [fake(200, s) for s in range(3)]
    seeds = [1, 2, 3]
    stacked = data.StackedBatches(
        [data.Batches(d, 64, augment=augment, seed=s) for d, s in zip(sets, seeds, strict=True)]
    )
    assert stacked.shared is shared
    singles = [
        data.Batches(d, 64, augment=augment, seed=s) for d, s in zip(sets, seeds, strict=True)
    ]
    for _ in range(2):  # two epochs: the generators carry on alike
        batches = list(stacked)
        assert len(batches) == len(stacked) == 4 and batches[-1][0].shape == (3, 8, 1, 28, 28)
        for s, single in enumerate(singles):
            for (images, labels), (one_images, one_labels) in zip(batches, single, strict=True):
                torch.testing.assert_close(images[s], one_images)
                assert torch.equal(labels[s], one_labels)
    state = stacked.state_dict()
    first = [b[1] for b in stacked]
    stacked.load_state_dict(state)
    assert all(torch.equal(a, b[1]) for a, b in zip(first, stacked, strict=True))


def test_stacked_batches_refuse_unequal_members():
    with pytest.raises(MnistliteError, match="equal lengths"):
        data.StackedBatches([data.Batches(fake(100), 32), data.Batches(fake(64), 32)])
    with pytest.raises(MnistliteError, match="at least one"):
        data.StackedBatches([])


# --- recipes.train(seeds=...): a single run's start and order, per-seed files --------------


class _Capture(Callback):
    def on_fit_start(self, trainer):
        self.initial = [trainer.model.member_state_dict(s) for s in range(trainer.model.size)]


def test_seeds_members_start_as_single_runs_and_write_per_seed_files(tmp_path):
    recipe = recipes.get_recipe("lite600", epochs=2, batch_size=32)
    capture = _Capture()
    trained, histories = recipes.train(
        recipe,
        data=(fake(96), fake(40, 1)),
        seeds=[3, 5],
        out=tmp_path / "run",
        device="cpu",
        progress=False,
        callbacks=[capture],
    )
    for seed, initial in zip([3, 5], capture.initial, strict=True):
        torch.manual_seed(seed)
        single = models.get_model("lite600").state_dict()
        assert all(torch.equal(initial[k], v) for k, v in single.items())
    for seed, model, history in zip([3, 5], trained, histories, strict=True):
        folder = tmp_path / "run" / f"seed-{seed}"
        assert sorted(p.name for p in folder.iterdir()) == [
            "checkpoint.pt",
            "history.json",
            "model.pt",
        ]
        saved = json.loads((folder / "history.json").read_text())
        assert saved["meta"]["seed"] == seed and "seeds" not in saved["meta"]
        assert len(saved["epochs"]) == 2 and len(saved["batch_losses"]) == 2 * 3
        assert saved["epochs"] == history.to_dict()["epochs"]
        weights = torch.load(folder / "model.pt", weights_only=True)
        assert all(torch.equal(weights[k], v.cpu()) for k, v in model.state_dict().items())
        checkpoint = load_checkpoint(folder / "checkpoint.pt")
        assert checkpoint["epoch"] == 2 and checkpoint["history"]["meta"]["seed"] == seed
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["history"]["meta"]["seeds"] == [3, 5]
    assert histories[0].final["test_acc"] != histories[1].final["test_acc"] or (
        histories[0].batch_losses != histories[1].batch_losses
    )


@pytest.mark.parametrize("stack_mode", ["auto", "loop"])
def test_seeds_without_dropout_follow_their_single_runs(stack_mode):
    """lite600 has no dropout: each member of a multi-seed run ends as its single run."""
    recipe = recipes.get_recipe("lite600", epochs=2, batch_size=32, rotation=8.0)
    kw = dict(data=(fake(96), fake(40, 1)), device="cpu", progress=False, bf16=False)
    stacked_models, histories = recipes.train(recipe, seeds=[1, 2], stack_mode=stack_mode, **kw)
    # auto, on a CPU: grouped, for lite600's depthwise convolutions
    expected_mode = "grouped" if stack_mode == "auto" else stack_mode
    assert all(h.meta["stack_mode"] == expected_mode for h in histories)
    for seed, model, history in zip([1, 2], stacked_models, histories, strict=True):
        single, single_history = recipes.train(recipe, seed=seed, **kw)
        for key, value in single.state_dict().items():
            torch.testing.assert_close(model.state_dict()[key], value, atol=1e-4, rtol=1e-4)
        assert history.final["test_acc"] == pytest.approx(single_history.final["test_acc"], abs=2.6)
        assert history.batch_losses == pytest.approx(single_history.batch_losses, rel=1e-3)


def test_seeds_with_a_teacher_follow_their_single_runs():
    """Distillation: the teacher sees every member's batch; losses as in single runs."""
    recipe = recipes.get_recipe("lite2k", epochs=1, batch_size=32)
    assert recipe.teacher == "teacher"
    kw = dict(data=(fake(64), fake(16, 1)), device="cpu", progress=False, bf16=False)
    _, histories = recipes.train(recipe, seeds=[1, 2], **kw)
    for seed, history in zip([1, 2], histories, strict=True):
        _, single = recipes.train(recipe, seed=seed, **kw)
        assert history.batch_losses == pytest.approx(single.batch_losses, rel=1e-3)
        assert history.meta["teacher"] == single.meta["teacher"]


def test_seeds_with_a_validation_split_use_each_seeds_split():
    recipe = recipes.get_recipe("lite600", epochs=1, batch_size=32)
    _, histories = recipes.train(
        recipe,
        data=(fake(120), fake(40, 1)),
        seeds=[1, 2],
        val_split=20,
        device="cpu",
        progress=False,
    )
    for seed, history in zip([1, 2], histories, strict=True):
        _, single = recipes.train(
            recipe,
            data=(fake(120), fake(40, 1)),
            seed=seed,
            val_split=20,
            device="cpu",
            progress=False,
        )
        assert history.meta["train_images"] == single.meta["train_images"] == 100
        assert history.final["val_acc"] == pytest.approx(single.final["val_acc"], abs=10.0)


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        ([], "seeds is empty"),
        ([0], "positive integers"),
        ([-2], "positive integers"),
        ([1, 2, 1], "repeated: 1"),
        ("12", "list of positive integers"),
    ],
)
def test_bad_seeds_are_refused(seeds, message):
    with pytest.raises(MnistliteError, match=message):
        recipes.train(recipes.get_recipe("lite600"), data=(fake(32), fake(8)), seeds=seeds)


def test_bad_stack_mode_is_refused(tmp_path):
    with pytest.raises(MnistliteError, match="stack_mode must be one of auto, grouped, vmap, loop"):
        recipes.train(
            recipes.get_recipe("lite600"), data=(fake(32), fake(8)), seeds=[1], stack_mode="x"
        )
    code, _, err = run_cli(
        "train", "lite600", "--seeds", "1", "2", "--stack-mode", "fused", "--out", tmp_path / "o"
    )
    assert code == 2 and "--stack-mode: invalid choice: 'fused'" in err
    assert not (tmp_path / "o").exists()


def test_seed_and_seeds_together_are_refused():
    with pytest.raises(MnistliteError, match="seed or seeds, not both"):
        recipes.train(recipes.get_recipe("lite600"), data=(fake(32), fake(8)), seed=1, seeds=[1, 2])


def test_resume_with_other_seeds_is_refused(tmp_path):
    recipe = recipes.get_recipe("lite600", epochs=2, batch_size=32)
    kw = dict(data=(fake(64), fake(16, 1)), out=tmp_path / "run", device="cpu", progress=False)
    recipes.train(recipe.replace(epochs=1), seeds=[1, 2], **kw)
    with pytest.raises(ResumeMismatchError, match=r"seeds \[1, 2\] -> \[1, 3\]"):
        recipes.train(recipe.replace(epochs=1), seeds=[1, 3], resume=True, **kw)
    with pytest.raises(ResumeMismatchError, match=r"seeds \[1, 2\] -> seed 1"):
        recipes.train(recipe.replace(epochs=1), seed=1, resume=True, **kw)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds"], "seeds is empty"),
        (["--seeds", "0"], "positive integers"),
        (["--seeds", "1", "-3"], "positive integers"),
        (["--seeds", "2", "2"], "repeated: 2"),
        (["--seeds", "1", "2", "--seed", "4"], "seed or seeds, not both"),
    ],
)
def test_cli_bad_seeds_exit_2(tmp_path, args, message):
    code, _, err = run_cli("train", "lite600", "--data", tmp_path, "--out", tmp_path / "o", *args)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from mnistlite import cli
    from mnistlite.training import trainer

    fit_end = trainer._epoch_record
    def record_then_die(owner, epoch, *args):
        if epoch == 2:  # epoch 1's checkpoints are on disk
            os.kill(os.getpid(), signal.SIGKILL)
        return fit_end(owner, epoch, *args)
    if sys.argv[-1] == "kill":
        trainer._epoch_record = record_then_die
    sys.exit(cli.main(sys.argv[1:-1]))
    """
)


@pytest.mark.slow  # 20 s; the default suite keeps test_training's single-run SIGKILL resume
def test_sigkill_then_resume_a_multi_seed_run(tmp_path, mnist_root):
    """`mnistlite train --seeds` killed with SIGKILL, then --resume: as a run left alone."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["train", "lite600", "--data", str(mnist_root), "--seeds", "1", "2", "--epochs", "2"]
    args += ["--limit-train", "256", "--batch-size", "64", "--no-progress", "--device", "cpu"]

    def run(out, *extra):
        return subprocess.run(
            [sys.executable, "-c", KILL_SCRIPT, *args, "--out", str(out), *extra],
            env=env,
            capture_output=True,
            text=True,
        )

    killed, whole = tmp_path / "killed", tmp_path / "whole"
    first = run(killed, "kill")
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert load_checkpoint(killed / "checkpoint.pt")["epoch"] == 1
    assert not (killed / "seed-1" / "model.pt").exists()
    assert run(killed, "--resume", "go").returncode == 0
    assert run(whole, "go").returncode == 0
    for seed in (1, 2):
        a = torch.load(killed / f"seed-{seed}" / "model.pt", weights_only=True)
        b = torch.load(whole / f"seed-{seed}" / "model.pt", weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a)
        ha = json.loads((killed / f"seed-{seed}" / "history.json").read_text())
        hb = json.loads((whole / f"seed-{seed}" / "history.json").read_text())
        for h in (ha, hb):
            for record in h["epochs"]:
                record.pop("seconds")
        assert ha == hb and len(ha["epochs"]) == 2


# --- the step function, sgd_update, cuda_graphs, --device auto ----------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"momentum": 0.9},
        {"momentum": 0.9, "nesterov": True, "weight_decay": 5e-4},
        {"momentum": 0.0, "weight_decay": 1e-3},
    ],
)
def test_sgd_update_matches_torch_sgd(options):
    torch.manual_seed(0)
    ours = [torch.randn(5, 3), torch.randn(7)]
    theirs = [p.clone().requires_grad_() for p in ours]
    reference = torch.optim.SGD(theirs, lr=0.05, **options)
    buffers = [torch.zeros_like(p) for p in ours]
    rest = {k: v for k, v in options.items() if k != "momentum"}
    for step in range(4):
        grads = [torch.randn_like(p) for p in ours]
        for p, g in zip(theirs, grads, strict=True):
            p.grad = g.clone()
        reference.step()
        # Python numbers (the eager step) and 0-dim tensors (the captured step) alike
        scalars = (0.05, options["momentum"])
        if step % 2:
            scalars = (torch.tensor(0.05), torch.tensor(options["momentum"]))
        sgd_update(
            ours, [g.clone() for g in grads], buffers, lr=scalars[0], momentum=scalars[1], **rest
        )
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b.detach(), atol=1e-6, rtol=1e-5)


def test_other_optimizers_step_themselves():
    model = models.get_model("lite600")
    trainer = Trainer(model, optimizer=lambda p: torch.optim.Adam(p, lr=1e-3), progress=False)
    before = [p.detach().clone() for p in model.parameters()]
    trainer.step(fake(16).images, fake(16).labels)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert trainer.optimizer.state  # Adam's own state: its step() ran


def test_train_step_is_forward_backward_and_sgd():
    model = models.get_model("lite600")
    reference = models.get_model("lite600")
    reference.load_state_dict(model.state_dict())
    trainer = Trainer(
        model,
        optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        progress=False,
        bf16=False,
    )
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    batch = fake(32)
    for _ in range(3):
        losses, correct = trainer.step(batch.images, batch.labels)
        optimizer.zero_grad()
        logits = reference(batch.images)
        loss = F.cross_entropy(logits, batch.labels)
        loss.backward()
        optimizer.step()
        assert losses.shape == () and losses.item() == pytest.approx(loss.item(), rel=1e-5)
        assert correct.item() == (logits.argmax(1) == batch.labels).sum().item()
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_one_cycle_momentum_reaches_the_step():
    """OneCycleLR cycles momentum too: the step reads it from the group every time."""
    model = models.get_model("lite600")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=6)
    trainer = Trainer(
        model,
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_interval="step",
        epochs=2,
        progress=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "lr_scheduler.step() before optimizer.step()"
        trainer.fit(data.Batches(fake(96), 32), fake(16, 1))
    assert len(trainer.history.batch_losses) == 6


def test_cuda_graphs_resolve_off_on_the_cpu_and_are_recorded():
    trainer = Trainer(models.get_model("lite600"), progress=False)
    assert trainer.cuda_graphs is False and trainer.meta["cuda_graphs"] is False
    with pytest.raises(MnistliteError, match="cuda_graphs=True needs a CUDA device"):
        Trainer(models.get_model("lite600"), cuda_graphs=True)
    with pytest.raises(MnistliteError, match="cuda_graphs must be"):
        Trainer(models.get_model("lite600"), cuda_graphs="yes")


def test_device_auto_is_cuda_then_mps_then_cpu(monkeypatch):
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    with pytest.raises(MnistliteError, match="expected cpu, cuda, cuda:N, mps or auto"):
        resolve_device("gpu0")


def test_cli_device_defaults_to_auto_and_is_printed(tmp_path, mnist_root):
    code, out, err = run_cli(
        "train",
        "lite600",
        "--data",
        mnist_root,
        "--epochs",
        "1",
        "--limit-train",
        "128",
        "--out",
        tmp_path / "o",
        "--no-progress",
    )
    assert code == 0, err
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert f"device: {expected} (auto: CUDA, then MPS, then the CPU)" in out
    history = json.loads((tmp_path / "o" / "history.json").read_text())
    assert history["meta"]["device"] == expected
    assert history["meta"]["cuda_graphs"] is (expected == "cuda")
