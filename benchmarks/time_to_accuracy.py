"""Time to 99.4%: the `fast` recipe against the seed's step-7 recipe, classic pipeline.

Usage::

    python benchmarks/time_to_accuracy.py --data ../shared/data [--seeds 1 2 3] [--out FILE.json]

Both are timed as whole processes, from process start to the final evaluation:
``mnistlite train fast --seed S`` once per seed (its final-epoch test accuracy is
what counts), and ``benchmarks/classic.py`` training the seed's step-7 recipe for
at most 12 epochs (the epochs the seed needed to reach 99.4%), stopping as soon as the
test accuracy reaches 99.4%. The classic run goes between the first and the second
seed, so a load that comes and goes on a shared machine hits both sides. Writes the
JSON and ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mnistlite.atomic import save_json

try:
    from benchmarks import results_md
    from benchmarks.machine import describe_cpu, load_average
except ImportError:  # run as a script from the repo root
    import results_md  # type: ignore[no-redef]
    from machine import describe_cpu, load_average  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent


def timed(command: list[str]) -> tuple[float, str]:
    """Run a command, return its wall time and stdout; fail loudly if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--skip-classic", action="store_true")
    parser.add_argument("--out", default=str(HERE / "time_to_accuracy.json"))
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    cpu = describe_cpu()
    print(cpu["summary"], flush=True)

    runs = []
    result: dict = {
        "command": "python benchmarks/time_to_accuracy.py " + " ".join(sys.argv[1:]),
        "cpu": cpu,
        "recipe": args.recipe,
    }
    for index, seed in enumerate(args.seeds):
        if index == 1 and not args.skip_classic:
            run_classic(args.data, result)
        load = load_average()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "run"
            command = [
                sys.executable,
                "-m",
                "mnistlite",
                "train",
                args.recipe,
                "--data",
                args.data,
                "--out",
                str(out),
                "--seed",
                str(seed),
                "--no-progress",
            ]
            seconds, _ = timed(command)
            history = json.loads((out / "history.json").read_text())
        final = history["epochs"][-1]["test_acc"]
        runs.append(
            {
                "seed": seed,
                "seconds": seconds,
                "final_test_acc": final,
                "epochs": len(history["epochs"]),
                "bf16": history["meta"].get("bf16"),
                "load_before": load,
            }
        )
        print(f"{args.recipe} seed {seed}: {seconds:.1f} s, final test {final:.2f}%", flush=True)
    if len(args.seeds) == 1 and not args.skip_classic:
        run_classic(args.data, result)
    result.update(
        runs=runs,
        mean_seconds=statistics.mean(r["seconds"] for r in runs),
        mean_final_test_acc=statistics.mean(r["final_test_acc"] for r in runs),
        std_final_test_acc=statistics.stdev(  # sample std (n - 1)
            r["final_test_acc"] for r in runs
        ),
    )
    if "classic" in result:
        result["ratio"] = result["mean_seconds"] / result["classic"]["seconds"]
    print(json.dumps(result, indent=2))
    save_json(args.out, result)
    results_md.write(args.results)
    print(f"wrote {args.out} and {args.results}")


def run_classic(root: str, result: dict) -> None:
    """Train the seed's step-7 recipe the classic way to 99.4% (at most 12 epochs)."""
    load = load_average()
    command = [sys.executable, str(HERE / "classic.py"), "--data", root, "--epochs", "12"]
    seconds, stdout = timed([*command, "--target", "99.4"])
    last = stdout.strip().splitlines()[-1]
    result["classic"] = {"seconds": seconds, "last_epoch": last, "load_before": load}
    print(f"classic: {seconds:.1f} s ({last})", flush=True)


if __name__ == "__main__":
    main()
