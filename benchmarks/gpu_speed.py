"""GPU training speed through the CLI, as a user runs it, plus single steps under the profiler.

Usage: python benchmarks/gpu_speed.py --data ROOT [--out benchmarks/gpu_speed.json] [--quick]
           [--parts PART ...] [--base benchmarks/gpu_speed.json]

Parts (``--parts`` picks some; the other parts' rows are kept from ``--base``), each a function
below: ``check`` (graph and stacked results match eager and single ones), ``step`` (how
``--bf16 auto`` and ``--channels-last auto`` were decided on CUDA), ``recipes`` (step7 and
fast through the CLI, one process per seed), ``multi_seed`` (how ``--stack-mode auto`` was
decided) and ``seeds_step`` (one step of 1 against 16 grouped seeds); ``fast_validation``
is a finished part (benchmarks/README.md). ``--quick``: one seed, fewer epochs. On the
device machine, ``bash benchmarks/gpu_run.sh speed`` runs it with MNIST from ``.gpu/``.
"""

import argparse
import itertools
import statistics
import time

import results_md
import torch
from common import HERE, load, save_result, train

from mnistlite import models, recipes, runs
from mnistlite.data import Batches, StackedBatches, load_mnist
from mnistlite.stacked import StackedModel
from mnistlite.training import Trainer

PARTS = ("check", "step", "recipes", "multi_seed", "seeds_step")


def gpu_name() -> str:
    """The GPU's name, memory and the torch and CUDA versions."""
    props = torch.cuda.get_device_properties(0)
    return (f"{props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}")  # fmt: skip


def cli_runs(data: str, *args: str) -> tuple[float, list[dict]]:
    """``mnistlite train ARGS --device cuda`` in a fresh process: wall seconds, each seed's run."""
    wall, histories, _ = train(data, *args, "--device", "cuda")
    runs = []
    for history in histories:
        epochs, meta = history["epochs"], history["meta"]
        seconds = [e["seconds"] for e in epochs]
        reached = (sum(seconds[: i + 1]) for i, e in enumerate(epochs) if e["test_acc"] >= 99.0)
        runs.append({"seed": meta["seed"], "final_test_acc": epochs[-1]["test_acc"],
                     "final_val_acc": epochs[-1].get("val_acc"), "training_s": sum(seconds),
                     "time_to_99_s": next(reached, None), "train_images": meta["train_images"],
                     "epochs": len(epochs), "epoch_seconds": seconds,
                     "cuda_graphs": meta.get("cuda_graphs")})  # fmt: skip
    print(f"mnistlite train {' '.join(args)}: {wall:.1f} s wall; {runs}", flush=True)
    return wall, runs


def recipe_runs(data: str, quick: bool) -> list[dict]:
    """step7 (seeds 1-3) and fast (seeds 1-5), one process per seed; means over the seeds."""
    rows, extra = [], ["--epochs", "2"] if quick else []
    for recipe, seeds in (("step7", [1, 2, 3]), ("fast", [1, 2, 3, 4, 5])):
        seeds = seeds[:1] if quick else seeds
        done = [cli_runs(data, recipe, "--seed", str(s), *extra) for s in seeds]
        runs, walls = [r for _, (r,) in done], [wall for wall, _ in done]
        command = f"mnistlite train {recipe} --device cuda --seed S {' '.join(extra)}".strip()
        row = {k: [r[k] for r in runs] for k in ("final_test_acc", "training_s", "time_to_99_s")}
        means = {f"mean_{k}": statistics.mean(row[k]) for k in ("final_test_acc", "training_s")}
        rows.append({"recipe": recipe, "command": command, "seeds": seeds, **row, **means,
                     "wall_s": walls, "mean_wall_s": statistics.mean(walls),
                     "cuda_graphs": runs[0]["cuda_graphs"]})  # fmt: skip
    return rows


def seeded(name: str, seed: int) -> torch.nn.Module:
    """The registered network ``name``, initialised from ``seed``."""
    torch.manual_seed(seed)
    return models.get_model(name)


def trainer_for(model: torch.nn.Module, recipe: str, **switches: object) -> Trainer:
    """A Trainer on CUDA over ``model`` with ``recipe``'s SGD optimizer."""
    optimizer = runs.build_optimizer(recipes.get_recipe(recipe), model)
    return Trainer(model, optimizer=optimizer, device="cuda", progress=False, **switches)


def step_ms(trainer: Trainer, batches: list, steps: int, top: int = 0) -> dict:
    """Milliseconds per step; then, over 40 profiled steps, the kernels' share of the wall
    time and (``top`` > 0) the kernels that take the most GPU time."""
    from torch.profiler import ProfilerActivity, profile

    def run(count: int) -> float:
        torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(count):
            trainer.step(*batches[i % len(batches)])
        torch.cuda.synchronize()
        return time.perf_counter() - start

    run(20)
    ms = run(steps) / steps * 1000
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        wall_us = run(40) * 1e6
    kernels = sorted((e for e in prof.key_averages()
                      if e.device_type == torch.autograd.DeviceType.CUDA),
                     key=lambda e: -e.self_device_time_total)  # fmt: skip
    kernel_us = sum(e.self_device_time_total for e in kernels)
    row = {"ms_per_step": ms, "kernel_ms_per_step": kernel_us / 40 / 1000,
           "profiled_ms_per_step": wall_us / 40 / 1000, "kernel_share": kernel_us / wall_us,
           "kernels_per_step": sum(e.count for e in kernels) / 40}  # fmt: skip
    if top:
        row["top_kernels"] = [{"name": e.key[:120], "per_step": e.count / 40,
                               "us_per_step": e.self_device_time_total / 40}
                              for e in kernels[:top]]  # fmt: skip
    return row


def step_profile(data: str, steps: int) -> list[dict]:
    """One training step: eager vs CUDA graph, fp32 vs bf16, contiguous vs channels_last."""
    train_set, rows = load_mnist(data, device="cuda"), []
    flags = (False, True)
    configs = [("step7", g, b, c) for g in (True, False) for b in flags for c in flags]
    for name, graphs, bf16, last in configs + [("fast", True, False, c) for c in (False, True)]:
        recipe = recipes.get_recipe(name)
        batches = Batches(train_set, recipe.batch_size, augment=recipe.augment())
        trainer = trainer_for(seeded(name, 1), name, bf16=bf16, cuda_graphs=graphs,
                              channels_last=last)  # fmt: skip
        rows.append({"network": name, "batch_size": recipe.batch_size, "cuda_graphs": graphs,
                     "bf16": bf16, "channels_last": last,
                     **step_ms(trainer, list(itertools.islice(batches, 64)), steps)})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def multi_seed(data: str, members: int, epochs: int) -> list[dict]:
    """lite1k: ``--seeds 1 ... members`` in each stack mode against one seed; images/s."""
    base = ["lite1k", "--epochs", str(epochs)]

    def rate(runs: list[dict], first: int = 0) -> float:
        """Training images per second over the epochs from ``first`` (0: the whole run)."""
        seconds = sum(runs[0]["epoch_seconds"][first:])
        return runs[0]["train_images"] * (runs[0]["epochs"] - first) * len(runs) / seconds

    single_wall, single = cli_runs(data, *base, "--seed", "1")
    command = (f"mnistlite train lite1k --device cuda --epochs {epochs} --seeds 1 ... {members} "
               "--stack-mode MODE")  # fmt: skip
    rows = []
    for mode in ("grouped", "vmap"):
        seeds = map(str, range(1, members + 1))
        wall, many = cli_runs(data, *base, "--seeds", *seeds, "--stack-mode", mode)
        rows.append({"command": command, "members": members, "epochs": epochs,
                     "single_images_per_s": rate(single), "single_wall_s": single_wall,
                     "single_after_first_epoch_images_per_s": rate(single, 1),
                     "stack_mode": mode, "images_per_s": rate(many),
                     "speedup": rate(many) / rate(single),
                     "after_first_epoch_images_per_s": rate(many, 1),
                     "after_first_epoch_speedup": rate(many, 1) / rate(single, 1),
                     "wall_s": wall})  # fmt: skip
    return rows


def seeds_step(data: str, members: int, steps: int) -> list[dict]:
    """One lite1k step (one CUDA graph, real batches) of one seed against ``members`` grouped
    seeds, fp32 and bf16 autocast: the step's own ratio (no test pass, warm-up or capture)."""
    train_set, recipe, rows = load_mnist(data, device="cuda"), recipes.get_recipe("lite1k"), []
    for size, bf16 in ((1, False), (members, False), (members, True)):
        nets = [seeded("lite1k", seed) for seed in range(1, size + 1)]
        model = nets[0] if size == 1 else StackedModel(nets, mode="grouped")
        each = [Batches(train_set, recipe.batch_size, seed=s) for s in range(1, size + 1)]
        batches = list(itertools.islice(each[0] if size == 1 else StackedBatches(each), 64))
        timed = step_ms(trainer_for(model, "lite1k", bf16=bf16), batches, steps, top=12)
        row = {"network": "lite1k", "batch_size": recipe.batch_size, "members": size,
               "bf16": bf16, **timed}  # fmt: skip
        row["images_per_ms"] = size * recipe.batch_size / row["ms_per_step"]
        row["speedup"] = size * rows[0]["ms_per_step"] / row["ms_per_step"] if rows else 1.0
        print(row, flush=True)
        rows.append(row)
    return rows


def check(data: str) -> list[dict]:
    """The captured step computes what the eager step computes; stacked members match singles."""
    batches = list(Batches(load_mnist(data, device="cuda", limit=4096), 128, seed=1))[:20]
    result = {}
    for steps in (4, 20):  # 3 eager warm-up steps, then the graph from step 4 on
        weights = []
        for graphs in (False, True):
            trainer = trainer_for(seeded("lite1k", 1), "lite1k", cuda_graphs=graphs)
            for images, labels in batches[:steps]:
                trainer.step(images, labels)
            weights.append(torch.cat([p.detach().flatten() for p in trainer.model.parameters()]))
        # Rounding differences grow fast: on the CPU, a 1e-7 change of the initial weights
        # moves them by about 0.026 after 20 steps of this recipe.
        gap = (weights[1] - weights[0]).abs().max().item()
        result[f"graph_vs_eager_max_abs_weight_diff_after_{steps}_steps"] = gap
    members = [seeded("lite1k", seed).cuda().eval() for seed in (1, 2, 3)]
    images = batches[0][0][:64]
    single = torch.stack([m(images) for m in members])
    for mode in ("grouped", "vmap"):
        stacked = StackedModel(members, mode=mode).cuda().eval()
        gap = (stacked(images.expand(3, *images.shape)) - single).abs().max().item()
        result[f"stacked_{mode}_vs_single"] = gap
    print("check:", result, flush=True)
    return [result]


def main() -> None:
    """Measure the parts asked for, saving the JSON after each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="MNIST root (torchvision layout)")
    parser.add_argument("--out", default=HERE / "gpu_speed.json")
    parser.add_argument("--quick", action="store_true", help="one seed each, fewer epochs")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--base", default=HERE / "gpu_speed.json", help="keeps other parts' rows")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_speed.py needs a CUDA GPU")
    print(gpu_name(), flush=True)
    data, (steps, seeds) = args.data, (50, 4) if args.quick else (200, 16)
    parts = {"check": lambda: check(data), "step": lambda: step_profile(data, steps),
             "recipes": lambda: recipe_runs(data, args.quick),
             "multi_seed": lambda: multi_seed(data, seeds, 3),
             "seeds_step": lambda: seeds_step(data, seeds, steps)}  # fmt: skip
    base = load(args.base, {"rows": [], "machine": {"parts": {}}})
    rows, measured_on = base["rows"], base["machine"]["parts"]
    for key in args.parts:  # each part is saved as soon as it is measured
        rows = [r for r in rows if r["part"] != key] + [{"part": key, **r} for r in parts[key]()]
        measured_on[key] = gpu_name()
        machine = {"summary": "; ".join(sorted(set(measured_on.values()))), "parts": measured_on}
        save_result(args.out, rows, {}, machine, "python benchmarks/gpu_speed.py --data ROOT")
    print(results_md.render("gpu_speed", load(args.out)))


if __name__ == "__main__":
    main()
