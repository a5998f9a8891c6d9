"""Run the frontier's validation runs and full runs side by side on one GPU.

Usage: python benchmarks/frontier_gpu.py --data ROOT --out DIR [--workers 16] [--deadline 520]
       python benchmarks/frontier_gpu.py --list

A small model keeps a GPU busy for microseconds per kernel, so one training process uses
a sliver of it; this script runs up to ``--workers`` training processes at once, each
one ``recipes.train`` call (exactly what ``mnistlite train NAME --seed S --device cuda``
runs, in fp32), in the order of :func:`_plan`. A job that distils waits for its teacher.

Two kinds of job:

* ``val``: trains on 50,000 training images and scores the other 10,000 (split seed 0,
  as ``frontier_search.py``); the test set is never loaded. The distilling ones use a
  teacher trained on the same 50,000 images only (job ``teacher-val``), so no
  validation image is seen through the teacher either.
* ``full``: the registered recipe (with the job's overrides) on all 60,000 images,
  scored on the test set; OUT/JOB/ is what ``mnistlite train --out`` writes.

Start NVIDIA's MPS daemon first (``nvidia-cuda-mps-control -d``, as root) so that the
processes' kernels run on the GPU at the same time instead of time-sliced (15 workers
kept an H200 busy this way). On a machine still warm from an earlier call the daemon is
already running and ``-d`` fails: test for it (``pgrep nvidia-cuda-mps``) rather than
falling back to time slicing, which ran session 5's fourth wave at a tenth of the speed.

``benchmarks/gpu_wave.sh`` is the whole device call (data, MPS, a plan, the results
packed into $OUT); it says how to prepare what it carries.

At ``--deadline`` seconds every job still running is stopped (its history.json keeps
the epochs it finished). OUT/jobs.json lists each job with its status, seconds and
final accuracy.

A plan's overrides are relative to the recipes registered when it ran (its docstring
names the session); each run's history.json records the whole recipe it trained with,
which is what ``make_frontier.py`` compares with today's recipes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mnistlite.recipes import Recipe

SPLIT = 10_000  # validation images held out of the 60,000 training images (seed 0)


def _plan() -> list[dict]:
    """The jobs, most important first (session 3). Plans 1 and 2 are relative to the
    recipes registered then: lite1k and lite600 have other networks and recipes now."""
    jobs = [
        dict(id="teacher-val", mode="val", recipe="teacher", seed=1),
        dict(id="teacher-full", mode="full", recipe="teacher", seed=1),
    ]
    big = ("lite10k", "lite8k", "lite5k")
    small = ("lite2k", "lite1k", "lite600")
    for name in big:  # no teacher needed: these start at once
        jobs += [
            dict(id=f"{name}-e30-s{s}", mode="full", recipe=name, seed=s, over={"epochs": 30})
            for s in (1, 2, 3)
        ]
    for name in big:
        jobs.append(
            dict(id=f"val-{name}-e30", mode="val", recipe=name, seed=1, over={"epochs": 30})
        )
    kd = {"epochs": 30, "teacher": "teacher"}
    for name in (*small, *big):
        over = {} if name in small else kd
        jobs.append(dict(id=f"val-{name}-kd", mode="val", recipe=name, seed=1, over=over))
    for name in (*small, *big):
        over = {} if name in small else kd
        jobs += [
            dict(id=f"{name}-kd-s{s}", mode="full", recipe=name, seed=s, over=over)
            for s in (1, 2, 3)
        ]
    for name in small:
        jobs.append(
            dict(id=f"val-{name}-nokd", mode="val", recipe=name, seed=1, over={"teacher": None})
        )
    return _with_teachers(jobs)


def _plan2() -> list[dict]:
    """The second wave: lite600 without a teacher (its validation choice), and the
    models below 2,000 parameters at batch 64 (twice the steps), with
    ``teacher-full``/``teacher-val`` from the first wave (copied into OUT)."""
    jobs = [
        dict(id=f"lite600-nokd-s{s}", mode="full", recipe="lite600", seed=s, over={"teacher": None})
        for s in (1, 2, 3)
    ]
    for name in ("lite2k", "lite1k", "lite600"):
        over = {"batch_size": 64}
        jobs.append(dict(id=f"val-{name}-kd-b64", mode="val", recipe=name, seed=1, over=over))
        jobs += [
            dict(id=f"{name}-kd-b64-s{s}", mode="full", recipe=name, seed=s, over=over)
            for s in (1, 2, 3)
        ]
    return _with_teachers(jobs)


def _plan3() -> list[dict]:
    """The third wave (prepared in session 4, run in session 5): what session 3's note lists
    next, the longest chains first.

    * a longer teacher (30 epochs, ``teacher30-val``/``teacher30-full``) and the 10k/8k/5k
      models distilled from it (the 20-epoch teacher scored only 99.48% on validation);
    * lite1k: the network ``tiny1k-c10rep3`` of ``frontier_search.py`` (980 parameters)
      without a teacher, and both it and today's lite1k (``tiny1k-c8rep3``) with the teacher;
    * lite2k at a higher peak learning rate (0.08, 0.1): it underfits with the teacher;
    * lite1k and lite600 at batch 64 (twice the steps), lite600 at peak lr 0.1.

    Every candidate gets its validation run and its three full runs side by side; the rule
    stays "the best final validation accuracy is the recipe" (the full runs choose nothing).
    Copy ``teacher-val``/``teacher-full`` of the first wave into OUT first.
    """
    jobs: list[dict] = [
        dict(id="teacher30-val", mode="val", recipe="teacher", seed=1, over={"epochs": 30}),
        dict(id="teacher30-full", mode="full", recipe="teacher", seed=1, over={"epochs": 30}),
    ]

    def candidate(
        job_id: str, recipe: str, over: dict, search: str | None = None, teacher_run: str = ""
    ) -> None:
        extra = {"search": search} if search else {}
        if teacher_run:
            extra["teacher_run"] = teacher_run
        jobs.append(dict(id=f"val-{job_id}", mode="val", recipe=recipe, seed=1, over=over, **extra))
        jobs.extend(
            dict(id=f"{job_id}-s{s}", mode="full", recipe=recipe, seed=s, over=over, **extra)
            for s in (1, 2, 3)
        )

    # first in the queue once their teacher is done
    for name in ("lite10k", "lite8k", "lite5k"):
        candidate(f"{name}-kd30", name, {"teacher": "teacher"}, teacher_run="teacher30")
    candidate("tiny1k-c10rep3-nokd", "lite1k", {}, search="tiny1k-c10rep3")
    for net in ("tiny1k-c8rep3", "tiny1k-c10rep3"):
        candidate(f"{net}-kd", "lite1k", {"teacher": "teacher"}, search=net)
    for lr in (0.08, 0.1):
        candidate(f"lite2k-lr{lr}", "lite2k", {"lr": lr})
    candidate("lite1k-b64", "lite1k", {"batch_size": 64})
    candidate("lite600-b64", "lite600", {"batch_size": 64})
    candidate("lite600-lr0.1", "lite600", {"lr": 0.1})
    return _with_teachers(jobs)


def _plan4() -> list[dict]:
    """The fourth wave (session 5, after the third): below 1,000 parameters one validation
    run per candidate is too noisy to choose by (lite600's three test seeds spread over
    0.5 points), so the rule there becomes the mean final validation accuracy of seeds
    1, 2, 3. This wave adds validation seeds 2 and 3 of every lite1k/lite600 candidate of
    wave 3 (and today's recipes), and the two changes that won there, combined
    (batch 64 with peak lr 0.1), with their three full runs.
    """
    jobs: list[dict] = []

    def val_seeds(job_id: str, recipe: str, over: dict, seeds: tuple[int, ...]) -> None:
        jobs.extend(
            dict(id=f"val-{job_id}-v{s}", mode="val", recipe=recipe, seed=s, over=over)
            for s in seeds
        )

    combined = {"batch_size": 64, "lr": 0.1}
    for name in ("lite1k", "lite600"):
        val_seeds(f"{name}-b64-lr0.1", name, combined, (1, 2, 3))
        jobs.extend(
            dict(id=f"{name}-b64-lr0.1-s{s}", mode="full", recipe=name, seed=s, over=combined)
            for s in (1, 2, 3)
        )
    for name, over in (
        ("lite600", {}),
        ("lite600-b64", {"batch_size": 64}),
        ("lite600-lr0.1", {"lr": 0.1}),
        ("lite1k", {}),
        ("lite1k-b64", {"batch_size": 64}),
    ):
        val_seeds(name, name.split("-")[0], over, (2, 3))
    return _with_teachers(jobs)


def _override_val_runs(runs: tuple[tuple[str, str, dict], ...]) -> list[dict]:
    """One validation run (seed 1) of each ``(model, tag, overrides)``: the model's
    registered recipe with the overrides, as job ``val-MODEL-TAG``."""
    return _with_teachers(
        [
            dict(id=f"val-{model}-{tag}", mode="val", recipe=model, seed=1, over=over)
            for model, tag, over in runs
        ]
    )


def _plan5() -> list[dict]:
    """Session 5 on the CPU (``--device cpu --workers 2``): the validation runs of wave 4's
    combination, which the GPU did not finish: lite1k at peak lr 0.1 (its recipe has
    batch 64 now) and lite600 at batch 64 (its recipe has peak lr 0.1 now)."""
    return _override_val_runs(
        (("lite1k", "b64-lr0.1", {"lr": 0.1}), ("lite600", "b64-lr0.1", {"batch_size": 64}))
    )


def _search_val_runs(pairs: tuple[tuple[str, str], ...]) -> list[dict]:
    """One validation run (seed 1) of each ``frontier_search.py`` network, paired with the
    registered model whose recipe it trains with."""
    return _with_teachers(
        [
            dict(id=f"val-{net}", mode="val", recipe=model, seed=1, over={}, search=net)
            for net, model in pairs
        ]
    )


def _plan6() -> list[dict]:
    """Session 5 on the CPU (``--device cpu --workers 2``): lite600's and lite1k's shape
    without the 1×1 classifier (``tiny600-gap``, ``tiny1k-gap`` of ``frontier_search.py``),
    each with its model's registered recipe."""
    return _search_val_runs((("tiny600-gap", "lite600"), ("tiny1k-gap", "lite1k")))


def _plan7() -> list[dict]:
    """Session 5 on the CPU (``--device cpu --workers 4``): lite8k with label smoothing
    0.1, its validation run and its three full runs side by side (the full runs choose
    nothing; they are the table's if validation chooses the change)."""
    over = {"label_smoothing": 0.1}
    return _with_teachers(
        [dict(id="val-lite8k-ls0.1", mode="val", recipe="lite8k", seed=1, over=over)]
        + [
            dict(id=f"lite8k-ls0.1-s{s}", mode="full", recipe="lite8k", seed=s, over=over)
            for s in (1, 2, 3)
        ]
    )


def _plan8() -> list[dict]:
    """Session 5 on the CPU (``--device cpu --workers 2``): lite600's and lite1k's
    networks with a fourth pass of the shared pair (``tiny600-c6rep4``, ``tiny1k-c8rep4``
    of ``frontier_search.py``), each with its model's registered recipe."""
    return _search_val_runs((("tiny600-c6rep4", "lite600"), ("tiny1k-c8rep4", "lite1k")))


def _plan9() -> list[dict]:
    """Session 5 on the CPU (``--device cpu --workers 2``): validation seeds 2 and 3 of
    lite600's recipe (peak lr 0.1), beside wave 4's seeds 2 and 3 of its former recipe
    (peak lr 0.05), to see how much of the validation margin that chose it is the seed's."""
    return _with_teachers(
        [
            dict(id=f"val-lite600-lr0.1-v{s}", mode="val", recipe="lite600", seed=s, over={})
            for s in (2, 3)
        ]
    )


def _plan10() -> list[dict]:
    """Session 5 on the CPU (``--device cpu --workers 2``): lite1k and lite600 at batch 32
    (lite1k's batch 64 beat 128 on validation), validation runs only."""
    return _override_val_runs(
        tuple((name, "b32", {"batch_size": 32}) for name in ("lite1k", "lite600"))
    )


def _plan11() -> list[dict]:
    """Session 6 on the CPU (``--device cpu --workers 1``, beside lite1k's full runs, with
    the GPU's ``teacher-val`` copied into OUT): lite2k at batch 32 (its recipe, batch 64
    with the teacher, beat batch 128; lite1k's batch 32 beat 64), a validation run."""
    return _override_val_runs((("lite2k", "b32", {"batch_size": 32}),))


def _plan12() -> list[dict]:
    """Session 6 on the CPU (``--workers 1``, with the GPU's ``teacher-full`` copied into
    OUT): full runs of lite2k at batch 32, started beside plan 11 so that they would be
    the table's if its validation run chose batch 32 (they choose nothing). It did not
    (98.87 vs 99.06), so this plan was stopped during its first run."""
    over = {"batch_size": 32}
    return _with_teachers(
        [
            dict(id=f"lite2k-b32-s{s}", mode="full", recipe="lite2k", seed=s, over=over)
            for s in (1, 2, 3)
        ]
    )


def _plan14() -> list[dict]:
    """Session 6 on the CPU (``--device cpu --workers 2``): lite5k underfits at 30 epochs
    (validation 99.21, augmented train accuracy 99.17), so two validation runs with less
    regularization or a higher peak: no weight decay, and peak lr 0.08."""
    return _override_val_runs(
        (("lite5k", "wd0", {"weight_decay": 0.0}), ("lite5k", "lr0.08", {"lr": 0.08}))
    )


def _plan15() -> list[dict]:
    """Session 6 on the CPU (``--device cpu --workers 2``): the padded design of the
    3,762-parameter anchor and its 4,516-parameter twin (``pad3762-5k``, ``pad4516-5k`` of
    ``frontier_search.py``) with lite5k's recipe, 30 epochs."""
    return _search_val_runs((("pad4516-5k", "lite5k"), ("pad3762-5k", "lite5k")))


def _plan16() -> list[dict]:
    """Session 6 on the CPU (``--device cpu --workers 2``): the padded design scaled to
    lite8k's budget (``pad7002-8k``, ``pad7580-8k``) with lite8k's recipe, 30 epochs."""
    return _search_val_runs((("pad7002-8k", "lite8k"), ("pad7580-8k", "lite8k")))


PLANS = {
    1: _plan,
    2: _plan2,
    3: _plan3,
    4: _plan4,
    5: _plan5,
    6: _plan6,
    7: _plan7,
    8: _plan8,
    9: _plan9,
    10: _plan10,
    11: _plan11,
    12: _plan12,
    # 13 held plan 12's seeds 2 and 3 and never ran; the numbers in results stay as they ran
    14: _plan14,
    15: _plan15,
    16: _plan16,
}


def _with_teachers(jobs: list[dict]) -> list[dict]:
    """Make each distilling job wait for the teacher run of its mode: ``T-val`` or
    ``T-full``, where T is the job's ``teacher_run`` (default ``teacher``)."""
    for job in jobs:
        job.setdefault("over", {})
        if _distils(job):
            job["needs"] = f"{job.get('teacher_run', 'teacher')}-{job['mode']}"
    return jobs


def _distils(job: dict) -> bool:
    """Whether the job's recipe (after its overrides) distils."""
    return _recipe(job).teacher is not None


def _recipe(job: dict) -> Recipe:
    """The job's recipe: the registered one with the job's overrides; for a ``search`` job
    the network (and recipe changes) of that ``frontier_search.py`` candidate as well."""
    from mnistlite import recipes

    recipe = recipes.get_recipe(job["recipe"])
    if job.get("search"):
        from frontier_search import CANDIDATES, _register

        spec, changes = CANDIDATES[job["search"]]
        changes = {k: v for k, v in changes.items() if k != "base"}
        recipe = recipe.replace(model=_register(job["search"], spec), **changes)
    return recipe.replace(**job["over"])


def run_job(job: dict, data_root: str, out: Path, device: str, smoke: bool) -> None:
    """Train one job (in this process)."""
    import torch

    from mnistlite import data, recipes

    torch.set_num_threads(1)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    recipe = _recipe(job)
    if smoke:
        recipe = recipe.replace(epochs=1)
    train = data.load_mnist(data_root, train=True, device=device)
    if job["mode"] == "val":
        train, test = train.split(SPLIT, seed=0)
    else:
        test = data.load_mnist(data_root, train=False, device=device)
    teacher = out / job["needs"] / "model.pt" if job.get("needs") else None
    recipes.train(
        recipe,
        data=(train, test),
        out=out / job["id"],
        seed=job["seed"],
        device=device,
        progress=False,
        limit_train=2000 if smoke else None,
        teacher_weights=teacher,
        bf16=False,
    )


def _final(path: Path) -> tuple[int, float | None]:
    """(epochs done, last test accuracy) of a run folder's history.json."""
    try:
        history = json.loads((path / "history.json").read_text())
    except (OSError, ValueError):
        return 0, None
    epochs = history.get("epochs", [])
    return len(epochs), (epochs[-1]["test_acc"] if epochs else None)


def launch(args: argparse.Namespace) -> None:
    """Run the plan with a pool of worker processes until done or the deadline."""
    jobs = PLANS[args.plan]()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    pending = list(jobs)
    running: dict[str, tuple[subprocess.Popen, float, dict]] = {}
    done: dict[str, dict] = {}
    for job_id in ("teacher-val", "teacher-full"):  # teachers of an earlier wave
        if (out / job_id / "model.pt").is_file() and all(j["id"] != job_id for j in jobs):
            done[job_id] = {"id": job_id, "status": "done", "earlier": True}
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    while pending or running:
        now = time.time() - start
        for job_id, (proc, began, job) in list(running.items()):
            if proc.poll() is not None:
                epochs, acc = _final(out / job_id)
                status = "done" if proc.returncode == 0 else f"failed rc={proc.returncode}"
                done[job_id] = {
                    **job,
                    "status": status,
                    "seconds": round(now - began, 1),
                    "epochs_done": epochs,
                    "final_acc": acc,
                }
                print(
                    f"[{now:5.0f}s] {job_id}: {status}, {epochs} epochs, final {acc} "
                    f"in {now - began:.0f} s",
                    flush=True,
                )
                del running[job_id]
        if now > args.deadline:
            break
        for job in list(pending):
            if len(running) >= args.workers:
                break
            need = job.get("needs")
            if need and need not in done:
                if need not in running and not any(j["id"] == need for j in pending):
                    pending.remove(job)  # its teacher failed or never ran
                continue
            if need and done[need]["status"] != "done":
                pending.remove(job)
                done[job["id"]] = {**job, "status": f"skipped: {need} failed"}
                continue
            pending.remove(job)
            cmd = [
                sys.executable,
                __file__,
                "--job",
                json.dumps(job),
                "--data",
                args.data,
                "--out",
                str(out),
                "--device",
                args.device,
            ] + (["--smoke"] if args.smoke else [])
            log = open(logs / f"{job['id']}.log", "w")  # noqa: SIM115
            running[job["id"]] = (subprocess.Popen(cmd, stdout=log, stderr=log), now, job)
            print(f"[{now:5.0f}s] start {job['id']}", flush=True)
        time.sleep(0.5)
    now = time.time() - start
    for proc, _, _ in running.values():
        proc.terminate()
    for job_id, (proc, began, job) in running.items():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        epochs, acc = _final(out / job_id)
        done[job_id] = {
            **job,
            "status": "stopped at deadline",
            "seconds": round(now - began, 1),
            "epochs_done": epochs,
            "final_acc": acc,
        }
    for job in pending:
        done.setdefault(job["id"], {**job, "status": "not started"})
    (out / "jobs.json").write_text(json.dumps(list(done.values()), indent=1))
    print(
        f"finished after {now:.0f} s: "
        f"{sum(done.get(j['id'], {}).get('status') == 'done' for j in jobs)} of {len(jobs)} "
        "jobs done"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data")
    parser.add_argument("--out")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--deadline", type=float, default=520.0)
    parser.add_argument("--smoke", action="store_true", help="1 epoch on 2,000 images per job")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--plan", type=int, default=1, choices=sorted(PLANS), help="which wave")
    args = parser.parse_args()
    if args.list:
        for job in PLANS[args.plan]():
            print(
                job["id"],
                job["mode"],
                job["recipe"],
                job["over"],
                job.get("needs"),
                job.get("search", ""),
            )
        return
    if args.job:
        run_job(json.loads(args.job), args.data, Path(args.out), args.device, args.smoke)
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    launch(args)


if __name__ == "__main__":
    main()
