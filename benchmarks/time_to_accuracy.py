"""Time to 99.4%: the `fast` recipe against the seed's step-7 recipe, classic pipeline.

Usage::

    python benchmarks/time_to_accuracy.py --data ../shared/data [--seeds 1 2 3] [--out FILE.json]

Both are timed as whole processes, from process start to the final evaluation:
``mnistlite train fast --seed S`` once per seed (its final-epoch test accuracy is
what counts), and ``benchmarks/classic.py`` training the seed's step-7 recipe for
at most 12 epochs (the epochs the seed needed to reach 99.4%), stopping as soon as the
test accuracy reaches 99.4%.
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
    parser.add_argument("--out")
    args = parser.parse_args()

    runs = []
    for seed in args.seeds:
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
            }
        )
        print(f"{args.recipe} seed {seed}: {seconds:.1f} s, final test {final:.2f}%", flush=True)
    result = {
        "recipe": args.recipe,
        "runs": runs,
        "mean_seconds": statistics.mean(r["seconds"] for r in runs),
        "mean_final_test_acc": statistics.mean(r["final_test_acc"] for r in runs),
        "std_final_test_acc": statistics.stdev(  # sample std (n - 1)
            r["final_test_acc"] for r in runs
        ),
    }
    if not args.skip_classic:
        command = [
            sys.executable,
            str(HERE / "classic.py"),
            "--data",
            args.data,
            "--epochs",
            "12",
            "--target",
            "99.4",
        ]
        seconds, stdout = timed(command)
        last = stdout.strip().splitlines()[-1]
        result["classic"] = {"seconds": seconds, "last_epoch": last}
        result["ratio"] = result["mean_seconds"] / seconds
        print(f"classic: {seconds:.1f} s ({last})")
    print(json.dumps(result, indent=2))
    if args.out:
        save_json(args.out, result)


if __name__ == "__main__":
    main()
