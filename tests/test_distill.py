"""Knowledge distillation: the loss, the Trainer's teacher, recipes with a teacher, resume."""

import hashlib
import math

import pytest
import torch
import torch.nn.functional as F
from _helpers import fake
from torch import nn

from mnistlite import Trainer, data, models, recipes
from mnistlite.training import distillation_loss


def test_loss_weight_zero_is_cross_entropy_and_one_is_scaled_kl():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(8, 10, generator=g), torch.randn(8, 10, generator=g)
    y = torch.randint(0, 10, (8,), generator=g)
    assert torch.equal(distillation_loss(s, t, y, weight=0.0), F.cross_entropy(s, y))
    temperature = 3.0
    p = F.softmax(t / temperature, 1)
    kl = (p * (p.log() - F.log_softmax(s / temperature, 1))).sum(1).mean()
    got = distillation_loss(s, t, y, temperature=temperature, weight=1.0)
    assert got.item() == pytest.approx(temperature**2 * kl.item(), rel=1e-5)
    # a student that copies the teacher pays no soft loss
    assert distillation_loss(t, t, y, weight=1.0).item() == pytest.approx(0.0, abs=1e-6)


def test_teacher_is_frozen_in_eval_mode_and_sees_the_same_batch():
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(784, 10)

        def forward(self, x):
            seen.append((x.clone(), self.training))
            return self.lin(x.flatten(1))

    teacher = Spy().train()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    torch.manual_seed(0)
    trainer = Trainer(
        models.lite600(), teacher=teacher, epochs=1, progress=False, distill_weight=0.7
    )
    batches = data.Batches(fake(64), 32, augment=data.Augment(rotation=10.0), seed=3)
    trainer.fit(batches)
    assert len(seen) == 2 and all(not training for _, training in seen)
    assert all(not p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    # the teacher got the augmented batch the student trained on
    replay = data.Batches(fake(64), 32, augment=data.Augment(rotation=10.0), seed=3)
    for (images, _), (x, _) in zip(replay, seen, strict=True):
        assert torch.equal(images, x)


def test_teacher_changes_training_and_bad_settings_raise():
    def run(**kwargs):
        torch.manual_seed(0)
        trainer = Trainer(models.lite600(), epochs=1, progress=False, **kwargs)
        trainer.fit(data.Batches(fake(64), 32, seed=0))
        return trainer.model.state_dict()

    plain = run()
    taught = run(teacher=models.step7(weights="DEFAULT"))
    assert any(not torch.equal(plain[k], taught[k]) for k in plain)
    assert all(torch.equal(plain[k], v) for k, v in run(teacher=None).items())
    with pytest.raises(ValueError, match="distill_weight"):
        Trainer(models.lite600(), teacher=models.step7(), distill_weight=1.5)
    with pytest.raises(ValueError, match="distill_temperature"):
        Trainer(models.lite600(), teacher=models.step7(), distill_temperature=0)
    with pytest.raises(TypeError, match="teacher"):
        Trainer(models.lite600(), teacher="step7")


def test_recipe_teacher_field_and_meta():
    with pytest.raises(ValueError, match="unknown model"):
        recipes.get_recipe("lite600", teacher="nope")
    with pytest.raises(ValueError, match="distill_weight"):
        recipes.get_recipe("lite600", teacher="step7", distill_weight=-0.1)
    with pytest.raises(ValueError, match="not bundled"):
        recipes.build_teacher(recipes.get_recipe("lite600", teacher="step1"))
    recipe = recipes.get_recipe("lite600", teacher="step7", epochs=1, batch_size=32)
    _, history = recipes.train(recipe, data=(fake(64), fake(32, 1)), progress=False)
    teacher = history.meta["teacher"]
    assert teacher["model"] == "step7" and len(teacher["sha256"]) == 64
    assert math.isfinite(history.final["train_loss"])


def test_resume_with_teacher_is_exact(tmp_path):
    recipe = recipes.get_recipe(
        "lite600", teacher="step7", epochs=3, batch_size=32, rotation=5.0, translate=0.05
    )
    parts = (fake(96), fake(32, 1))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole, history = recipes.train(recipe, data=parts, out=tmp_path / "a", seed=2, progress=False)
    recipes.train(
        recipe, data=parts, out=tmp_path / "b", seed=2, progress=False, callbacks=[_StopAfter(2)]
    )
    resumed, history2 = recipes.train(
        recipe, data=parts, out=tmp_path / "b", seed=2, progress=False, resume=True
    )
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h.epochs]  # noqa: E731
    assert strip(history) == strip(history2)


class _StopAfter:
    """A callback that stops the run after ``n`` epochs (a stand-in for a kill)."""

    def __init__(self, n):
        self.n = n

    def on_fit_start(self, trainer):
        pass

    def on_epoch_end(self, trainer, record):
        if record["epoch"] >= self.n:
            trainer.should_stop = True

    def on_fit_end(self, trainer):
        pass


def test_teacher_weights_file_replaces_the_bundled_teacher(tmp_path):
    """``teacher_weights`` loads the recipe's teacher from a file and records its hash."""
    teacher = models.lite600()
    with torch.no_grad():
        for p in teacher.parameters():
            p.normal_()
    path = tmp_path / "teacher.pt"
    torch.save(teacher.state_dict(), path)
    recipe = recipes.get_recipe("lite600", teacher="lite600", epochs=1, batch_size=32)
    built = recipes.build_teacher(recipe, path)
    assert not built.training
    for key, value in teacher.state_dict().items():
        assert torch.equal(built.state_dict()[key], value), key
    _, history = recipes.train(
        recipe, data=(fake(64), fake(32, 1)), progress=False, teacher_weights=path
    )
    meta = history.meta["teacher"]
    assert meta["file"] == "teacher.pt"
    assert meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="names no teacher"):
        recipes.build_teacher(recipes.get_recipe("lite600", teacher=None), path)
    with pytest.raises(ValueError, match="not found|no such|does not exist|missing"):
        recipes.build_teacher(recipe, tmp_path / "missing.pt")


def test_distilling_lite_recipes_name_the_bundled_teacher():
    for name in ("lite10k", "lite2k"):
        assert recipes.get_recipe(name).teacher == "teacher"
    teacher = recipes.build_teacher(recipes.get_recipe("lite2k"))
    assert sum(p.numel() for p in teacher.parameters()) == 97_920
    assert not teacher.training


class _Linear(nn.Module):
    """No dropout, no BatchNorm: a forward pass that the test can repeat exactly."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.lin = nn.Linear(784, 10)

    def forward(self, x):
        return self.lin(x.flatten(1))


def _written_out_loss(student, teacher, labels, temperature, weight):
    """Hinton et al.'s loss, term by term: (1 - w) CE + w T² KL(teacher_T || student_T)."""
    log_p_student = (student / temperature).log_softmax(1)
    p_teacher = (teacher / temperature).softmax(1)
    kl = (p_teacher * (p_teacher.log() - log_p_student)).sum(1).mean()
    ce = -student.log_softmax(1).gather(1, labels[:, None]).mean()
    return (1 - weight) * ce + weight * temperature**2 * kl


@pytest.mark.parametrize("stacked", [False, True])
def test_the_trainer_trains_on_the_written_out_loss(stacked):
    """Each batch loss the Trainer logs is the formula above, single and side by side."""
    from mnistlite.stacked import StackedModel

    temperature, weight = 3.0, 0.7
    students = [_Linear(1), _Linear(2)]
    teacher = _Linear(9)
    model = StackedModel([_Linear(1), _Linear(2)], mode="loop") if stacked else _Linear(1)
    train = fake(96)
    batches = data.Batches(train, 32, shuffle=False)
    trainer = Trainer(
        model,
        optimizer=torch.optim.SGD(model.parameters(), lr=1e-12),  # weights stay put
        teacher=teacher,
        distill_temperature=temperature,
        distill_weight=weight,
        bf16=False,
        progress=False,
    )
    fed = (
        data.StackedBatches([batches, data.Batches(train, 32, shuffle=False)])
        if stacked
        else batches
    )
    trainer.fit(fed)
    logged = (
        [h.batch_losses for h in trainer.member_histories]
        if stacked
        else [trainer.history.batch_losses]
    )
    for student, losses in zip(students[: len(logged)], logged, strict=True):
        assert len(losses) == 3
        for i, loss in enumerate(losses):
            images, labels = train.images[32 * i : 32 * i + 32], train.labels[32 * i : 32 * i + 32]
            with torch.no_grad():
                want = _written_out_loss(
                    student(images), teacher(images), labels, temperature, weight
                )
            assert loss == pytest.approx(want.item(), rel=1e-5)
