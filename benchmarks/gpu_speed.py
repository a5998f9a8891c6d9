"""GPU training speed through the CLI, as a user runs it, plus one step under the profiler.

Usage::

    python benchmarks/gpu_speed.py --data ROOT [--out benchmarks/gpu_speed.json] [--quick]

On a CUDA GPU (named in the output) it measures:

* ``mnistlite train step7 --device cuda`` for seeds 1-3 and ``mnistlite train fast
  --device cuda`` for seeds 1-5, one process each: the training time (the sum of the
  epochs' logged seconds, test passes included), the whole process's wall time, the final
  test accuracy, and for ``fast`` the time to 99.0% read from its history;
* one step-7 training step (batch 128): milliseconds per step and the share of the wall
  time the GPU spends in kernels (``torch.profiler``), eager against one CUDA graph, fp32
  against bf16 autocast, contiguous against channels_last, which is how ``--bf16 auto``
  and ``--channels-last auto`` were decided on CUDA; the same for ``fast`` in a graph;
* ``mnistlite train lite1k --seeds 1 ... 16`` against one seed (3 epochs each), with
  ``--stack-mode grouped`` and ``vmap``: training images per second (images times seeds
  over the training time), over the whole run and over the epochs after the first (how
  ``--stack-mode auto`` was decided on CUDA);
* one lite1k training step (one CUDA graph) of one seed against 16 seeds in grouped mode
  (fp32 or bf16 autocast): milliseconds per step, the step's own
  speedup, and the kernels that take the most time;
* ``fast`` on CUDA for 6, 7 and 8 epochs, seeds 1-10 side by side, 10,000 training
  images held out: the final validation accuracy that chose its CUDA epochs.

``--quick`` runs one seed of each and fewer epochs (a smoke test of the script).
Render the JSON into its section of benchmarks/RESULTS.md with
``python benchmarks/gpu_speed.py --render`` (no GPU needed). On the device machine,
``bash benchmarks/gpu_run.sh speed`` runs it with MNIST unpacked from ``.gpu/``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from machine import timed
from tables import write_section

REPO = Path(__file__).resolve().parents[1]
JSON = REPO / "benchmarks" / "gpu_speed.json"
#: What the script measures, in order; ``--parts`` picks some.
PARTS = ("check", "step", "recipes", "multi_seed", "seeds_step", "fast_validation")


def cli_run(args: list[str], out: Path) -> dict:
    """Run ``mnistlite train ...`` in a fresh process; read back what its history says."""
    command = [sys.executable, "-m", "mnistlite", "train", *args, "--out", str(out)]
    wall, _ = timed([*command, "--no-progress"])
    folders = sorted(out.glob("seed-*")) or [out]
    runs = []
    for folder in folders:
        history = json.loads((folder / "history.json").read_text())
        epochs = history["epochs"]
        seconds = [e["seconds"] for e in epochs]
        reached = next(
            (sum(seconds[: i + 1]) for i, e in enumerate(epochs) if e["test_acc"] >= 99.0), None
        )
        runs.append(
            {
                "seed": history["meta"]["seed"],
                "final_test_acc": epochs[-1]["test_acc"],
                "final_val_acc": epochs[-1].get("val_acc"),
                "channels_last": history["meta"].get("channels_last"),
                "stack_mode": history["meta"].get("stack_mode"),
                "training_s": sum(seconds),
                "time_to_99_s": reached,
                "train_images": history["meta"]["train_images"],
                "epochs": len(epochs),
                "epoch_seconds": seconds,
                "cuda_graphs": history["meta"].get("cuda_graphs"),
                "bf16": history["meta"].get("bf16"),
            }
        )
    print(f"{' '.join(command[3:])}: {wall:.1f} s wall; {runs}", flush=True)
    return {"command": "mnistlite " + " ".join(command[3:]), "wall_s": wall, "runs": runs}


def recipe_runs(data: str, recipe: str, seeds: list[int], extra: list[str], tmp: Path) -> dict:
    """One process per seed; means over the seeds."""
    rows = [
        cli_run(
            [recipe, "--data", data, "--device", "cuda", "--seed", str(s), *extra],
            tmp / f"{recipe}-{s}",
        )
        for s in seeds
    ]
    runs = [row["runs"][0] for row in rows]
    finals = [r["final_test_acc"] for r in runs]
    return {
        "recipe": recipe,
        "command": f"mnistlite train {recipe} --device cuda --seed S {' '.join(extra)}".strip(),
        "seeds": seeds,
        "final_test_acc": finals,
        "mean_final_test_acc": statistics.mean(finals),
        "training_s": [r["training_s"] for r in runs],
        "mean_training_s": statistics.mean(r["training_s"] for r in runs),
        "wall_s": [row["wall_s"] for row in rows],
        "mean_wall_s": statistics.mean(row["wall_s"] for row in rows),
        "time_to_99_s": [r["time_to_99_s"] for r in runs],
        "cuda_graphs": runs[0]["cuda_graphs"],
    }


def seed1_trainer(name: str, **switches: object):
    """A Trainer on CUDA over a seed-1 network ``name`` with its recipe's SGD optimizer."""
    from mnistlite import models, recipes
    from mnistlite.training import Trainer

    torch.manual_seed(1)
    model = models.get_model(name)
    optimizer = recipes.build_optimizer(recipes.get_recipe(name), model)
    return Trainer(model, optimizer=optimizer, device="cuda", progress=False, **switches)


def step_ms(trainer, batches: list, steps: int, top: int = 0) -> dict:
    """Milliseconds per training step, then 40 steps under the profiler: the kernel share.

    With ``top`` > 0 it also lists the ``top`` kernels that take the most GPU time: name,
    launches per step and microseconds per step.
    """
    from torch.profiler import ProfilerActivity, profile

    for images, labels in batches[:20]:
        trainer.step(images, labels)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        trainer.step(*batches[i % len(batches)])
    torch.cuda.synchronize()
    ms = (time.perf_counter() - start) / steps * 1000
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        for i in range(40):
            trainer.step(*batches[i % len(batches)])
        torch.cuda.synchronize()
        wall_us = (time.perf_counter() - start) * 1e6
    kernels = sorted(
        (e for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA),
        key=lambda e: -e.self_device_time_total,
    )
    kernel_us = sum(e.self_device_time_total for e in kernels)
    row = {
        "ms_per_step": ms,
        "kernel_ms_per_step": kernel_us / 40 / 1000,
        "profiled_ms_per_step": wall_us / 40 / 1000,
        "kernel_share": kernel_us / wall_us,
        "kernels_per_step": sum(e.count for e in kernels) / 40,
    }
    if top:
        row["top_kernels"] = [
            {
                "name": e.key[:120],
                "per_step": e.count / 40,
                "us_per_step": e.self_device_time_total / 40,
            }
            for e in kernels[:top]
        ]
    return row


def step_profile(data: str, steps: int = 200) -> list[dict]:
    """One training step: eager vs CUDA graph, fp32 vs bf16, contiguous vs channels_last."""
    from mnistlite import recipes
    from mnistlite.data import Batches, load_mnist

    train = load_mnist(data, device="cuda")
    configs = [
        ("step7", graphs, bf16, last)
        for graphs in (True, False)
        for bf16 in (False, True)
        for last in (False, True)
    ]
    configs += [("fast", True, False, last) for last in (False, True)]
    rows = []
    for name, graphs, bf16, last in configs:
        recipe = recipes.get_recipe(name)
        batches = Batches(train, recipe.batch_size, augment=recipe.augment())
        trainer = seed1_trainer(name, bf16=bf16, cuda_graphs=graphs, channels_last=last)
        row = {
            "network": name,
            "batch_size": recipe.batch_size,
            "cuda_graphs": graphs,
            "bf16": bf16,
            "channels_last": last,
            **step_ms(trainer, list(itertools.islice(batches, 64)), steps),
        }
        print(row, flush=True)
        rows.append(row)
    return rows


def multi_seed(data: str, tmp: Path, members: int, epochs: int) -> dict:
    """lite1k: ``--seeds 1 ... members`` in each stack mode against one seed; images/s."""
    base = ["lite1k", "--data", data, "--device", "cuda", "--epochs", str(epochs)]
    single = cli_run([*base, "--seed", "1"], tmp / "lite1k-single")
    seeds = [str(s) for s in range(1, members + 1)]

    def rate(result: dict, first: int = 0) -> float:
        """Training images per second over the epochs from ``first`` (0: the whole run)."""
        run = result["runs"][0]
        seconds = sum(run["epoch_seconds"][first:])
        return run["train_images"] * (run["epochs"] - first) * len(result["runs"]) / seconds

    modes = []
    for mode in ("grouped", "vmap"):
        many = cli_run([*base, "--seeds", *seeds, "--stack-mode", mode], tmp / f"lite1k-{mode}")
        modes.append(
            {
                "stack_mode": mode,
                "images_per_s": rate(many),
                "speedup": rate(many) / rate(single),
                "after_first_epoch_images_per_s": rate(many, 1),
                "after_first_epoch_speedup": rate(many, 1) / rate(single, 1),
                "wall_s": many["wall_s"],
            }
        )
    return {
        "command": (
            f"mnistlite train lite1k --device cuda --epochs {epochs} --seeds 1 ... {members} "
            "--stack-mode MODE"
        ),
        "members": members,
        "epochs": epochs,
        "single_images_per_s": rate(single),
        "single_after_first_epoch_images_per_s": rate(single, 1),
        "single_wall_s": single["wall_s"],
        "modes": modes,
    }


def seeds_step(data: str, members: int, steps: int = 200) -> dict:
    """One lite1k training step of one seed against ``members`` seeds in grouped mode.

    Each in one CUDA graph on real batches, so a ratio is the step's alone (no test pass,
    warm-up or capture): ``members`` times the single step's milliseconds over the
    stacked step's. The stacked step runs in fp32, as ``--bf16 auto`` chooses on CUDA
    from single runs, and with bf16 autocast, which halves the bytes its passes move; the
    top kernels show where each step's time goes.
    """
    from mnistlite import models, recipes
    from mnistlite.data import Batches, StackedBatches, load_mnist
    from mnistlite.stacked import StackedModel
    from mnistlite.training import Trainer

    train = load_mnist(data, device="cuda")
    recipe = recipes.get_recipe("lite1k")
    rows = []
    for size, bf16 in ((1, False), (members, False), (members, True)):
        nets = []
        for seed in range(1, size + 1):
            torch.manual_seed(seed)
            nets.append(models.get_model("lite1k"))
        model = nets[0] if size == 1 else StackedModel(nets, mode="grouped")
        trainer = Trainer(
            model,
            optimizer=recipes.build_optimizer(recipe, model),
            device="cuda",
            progress=False,
            bf16=bf16,
        )
        each = [Batches(train, recipe.batch_size, seed=s) for s in range(1, size + 1)]
        batches = each[0] if size == 1 else StackedBatches(each)
        row = {
            "members": size,
            "stack_mode": None if size == 1 else "grouped",
            "bf16": bf16,
            **step_ms(trainer, list(itertools.islice(batches, 64)), steps, top=12),
        }
        print(row, flush=True)
        rows.append(row)
    single, default = rows[0], rows[1]
    return {
        "network": "lite1k",
        "batch_size": recipe.batch_size,
        "members": members,
        "rows": rows,
        "step_speedup": members * single["ms_per_step"] / default["ms_per_step"],
    }


def fast_validation(data: str, tmp: Path, seeds: int, epochs: list[int]) -> dict:
    """fast on CUDA for each epoch count: seeds side by side, 10,000 images held out."""
    rows = []
    for count in epochs:
        result = cli_run(
            ["fast", "--data", data, "--device", "cuda", "--epochs", str(count), "--val-split",
             "10000", "--seeds", *map(str, range(1, seeds + 1))],
            tmp / f"fast-val-{count}",
        )  # fmt: skip
        val = [r["final_val_acc"] for r in result["runs"]]
        rows.append(
            {
                "epochs": count,
                "mean_final_val_acc": statistics.mean(val),
                "final_val_acc": val,
                "training_s": result["runs"][0]["training_s"],
            }
        )
    return {
        "command": (
            f"mnistlite train fast --device cuda --epochs E --val-split 10000 --seeds 1 ... {seeds}"
        ),
        "rows": rows,
    }


def check(data: str) -> dict:
    """The captured step computes what the eager step computes; stacked members match singles."""
    from mnistlite import models
    from mnistlite.data import Batches, load_mnist
    from mnistlite.stacked import StackedModel

    train = load_mnist(data, device="cuda", limit=4096)
    batches = list(Batches(train, 128, seed=1))[:20]
    gaps = {}
    for steps in (4, 20):  # 3 eager warm-up steps, then the graph from step 4 on
        weights = {}
        for graphs in (False, True):
            trainer = seed1_trainer("lite1k", cuda_graphs=graphs)
            for images, labels in batches[:steps]:
                trainer.step(images, labels)
            weights[graphs] = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
        # Rounding differences grow fast: on the CPU, a 1e-7 change of the initial weights
        # moves them by about 0.026 after 20 steps of this recipe.
        gaps[steps] = (weights[True] - weights[False]).abs().max().item()
    members = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        members.append(models.get_model("lite1k").cuda().eval())
    images = batches[0][0][:64]
    single_out = torch.stack([m(images) for m in members])
    result = {
        "graph_vs_eager_max_abs_weight_diff_after_4_steps": gaps[4],
        "graph_vs_eager_max_abs_weight_diff_after_20_steps": gaps[20],
    }
    for mode in ("grouped", "vmap"):
        stacked = StackedModel(members, mode=mode).cuda().eval()
        stacked_out = stacked(images.expand(3, *images.shape))
        result[f"stacked_{mode}_vs_single"] = (stacked_out - single_out).abs().max().item()
    print("check:", result, flush=True)
    return result


def gpu_name() -> str:
    """The GPU's name, memory and the torch and CUDA versions."""
    props = torch.cuda.get_device_properties(0)
    return (
        f"{props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}"
    )


def render(result: dict) -> str:
    """The RESULTS.md section of this benchmark, as Markdown."""
    gpus = sorted(set(result["measured_on"].values()))
    lines = [
        f"GPU: {'; '.join(gpus)}. Command: `{result['command']}`.",
        "",
        "| run | seeds | training time (s, mean) | process wall (s, mean) | final test acc. "
        "(mean; per seed) | time to 99.0% (s) |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["recipes"]:
        per_seed = ", ".join(f"{a:.2f}" for a in row["final_test_acc"])
        reach = ", ".join("–" if t is None else f"{t:.2f}" for t in row["time_to_99_s"])
        lines.append(
            f"| `{row['command']}` | {', '.join(map(str, row['seeds']))} | "
            f"{row['mean_training_s']:.2f} | {row['mean_wall_s']:.1f} | "
            f"{row['mean_final_test_acc']:.3f}; {per_seed} | {reach} |"
        )
    lines += [
        "",
        "One training step (SGD with momentum, real augmented batches; fast at batch 256, "
        "step 7 at 128):",
        "",
        "| network | step | precision | memory format | ms per step | GPU kernel ms per step "
        "| kernel share of wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["step"]:
        lines.append(
            f"| {row['network']} | {'one CUDA graph' if row['cuda_graphs'] else 'eager'} | "
            f"{'bf16 autocast' if row['bf16'] else 'fp32'} | "
            f"{'channels_last' if row['channels_last'] else 'contiguous'} | "
            f"{row['ms_per_step']:.3f} | {row['kernel_ms_per_step']:.3f} | "
            f"{100 * row['kernel_share']:.0f}% |"
        )
    many = result["multi_seed"]
    lines += [
        "",
        f"`{many['command']}` against one seed ({many['single_images_per_s']:,.0f} images/s; "
        "training images per second over the whole run, and over the epochs after the first, "
        "which holds the warm-up steps and the graph's capture):",
        "",
        "| stack mode | images/s | against one seed | after the first epoch: against one seed "
        "| process wall (s) |",
        "|---|---|---|---|---|",
    ]
    for row in many["modes"]:
        later = row.get("after_first_epoch_speedup")
        lines.append(
            f"| {row['stack_mode']} | {row['images_per_s']:,.0f} | **{row['speedup']:.1f}×** | "
            f"{'–' if later is None else f'{later:.1f}×'} | {row['wall_s']:.1f} |"
        )
    if "seeds_step" in result:
        step = result["seeds_step"]
        single = step["rows"][0]
        lines += [
            "",
            f"One {step['network']} training step (batch {step['batch_size']} per seed, one CUDA "
            f"graph) of one seed against {step['members']} seeds in grouped mode, without the "
            "test passes and the warm-up:",
            "",
            "| seeds | precision | ms per step | GPU kernel ms per step "
            "| kernels per step | images per ms | against one seed |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in step["rows"]:
            rate = row["members"] * step["batch_size"] / row["ms_per_step"]
            ratio = row["members"] * single["ms_per_step"] / row["ms_per_step"]
            lines.append(
                f"| {row['members']} | {'bf16 autocast' if row['bf16'] else 'fp32'} | "
                f"{row['ms_per_step']:.3f} | {row['kernel_ms_per_step']:.3f} | "
                f"{row['kernels_per_step']:.0f} | {rate:.0f} | {ratio:.1f}× |"
            )
    if "fast_validation" in result:
        val = result["fast_validation"]
        lines += [
            "",
            f"`fast` on CUDA by epochs, chosen on held-out training images (`{val['command']}`):",
            "",
            "| epochs | mean final validation acc. | training time (s) |",
            "|---|---|---|",
        ]
        for row in val["rows"]:
            lines.append(
                f"| {row['epochs']} | {row['mean_final_val_acc']:.3f} | {row['training_s']:.2f} |"
            )
    return "\n".join(lines)


def section(result: dict) -> list[str]:
    """RESULTS.md's section: its title, then :func:`render`'s lines."""
    return ["## Training on a GPU", "", *render(result).splitlines()]


def main() -> None:
    """Measure (or, with --render, write RESULTS.md's section from the JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="MNIST root (torchvision layout)")
    parser.add_argument("--out", type=Path, default=JSON)
    parser.add_argument("--quick", action="store_true", help="one seed each, fewer epochs")
    parser.add_argument("--render", action="store_true", help="write RESULTS.md from --out")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="measure only these parts; the others are kept from --base",
    )
    parser.add_argument("--base", type=Path, help="a JSON written before, to update")
    args = parser.parse_args()
    if args.render:
        lines = section(json.loads(args.out.read_text()))
        write_section(REPO / "benchmarks" / "RESULTS.md", "gpu_speed", lines)
        return
    if not torch.cuda.is_available():
        raise SystemExit("gpu_speed.py needs a CUDA GPU")
    print(gpu_name(), flush=True)
    quick = ["--epochs", "2"] if args.quick else []
    result: dict = json.loads(args.base.read_text()) if args.base else {}
    result.update({"name": "gpu_speed", "command": "python benchmarks/gpu_speed.py --data ROOT"})
    result.setdefault("measured_on", {})
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        parts = {
            "check": lambda: check(args.data),
            "step": lambda: step_profile(args.data, steps=50 if args.quick else 200),
            "recipes": lambda: [
                recipe_runs(args.data, "step7", [1] if args.quick else [1, 2, 3], quick, tmp_path),
                recipe_runs(
                    args.data, "fast", [1] if args.quick else [1, 2, 3, 4, 5], quick, tmp_path
                ),
            ],
            "multi_seed": lambda: multi_seed(args.data, tmp_path, 4 if args.quick else 16, 3),
            "seeds_step": lambda: seeds_step(
                args.data, 4 if args.quick else 16, 50 if args.quick else 200
            ),
            "fast_validation": lambda: fast_validation(
                args.data, tmp_path, 2 if args.quick else 10, [1, 2] if args.quick else [6, 7, 8]
            ),
        }
        for key in args.parts:  # each part is written as soon as it is measured
            result[key] = parts[key]()
            result["measured_on"][key] = gpu_name()
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))


if __name__ == "__main__":
    main()
