"""Time to 99.4%: the `fast` recipe against the seed's step-7 recipe, classic pipeline.

Usage: python benchmarks/time_to_accuracy.py --data ../shared/data [--seeds 1 2 3]

Both are timed as whole processes, from process start to the final evaluation:
``mnistlite train fast --seed S`` once per seed (its final-epoch test accuracy is what
counts), and ``benchmarks/classic.py`` training the seed's step-7 recipe for at most 12
epochs (the epochs the seed needed to reach 99.4%), stopping as soon as the test accuracy
reaches 99.4%. The classic run goes between the first and the second seed, so a load that
comes and goes on a shared machine hits both sides. Writes
benchmarks/time_to_accuracy.json and its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import results_md
from machine import describe_cpu, load_average, save_result, timed, train

HERE = Path(__file__).resolve().parent


def classic(root: str) -> dict:
    """Train the seed's step-7 recipe the classic way to 99.4% (at most 12 epochs)."""
    load = load_average()
    command = [sys.executable, str(HERE / "classic.py"), "--data", root, "--epochs", "12"]
    seconds, stdout = timed([*command, "--target", "99.4"])
    last = stdout.strip().splitlines()[-1]
    print(f"classic: {seconds:.1f} s ({last})", flush=True)
    return {"seconds": seconds, "last_epoch": last, "load_before": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--skip-classic", action="store_true")
    args = parser.parse_args()
    result: dict = {"cpu": describe_cpu(), "recipe": args.recipe}
    runs = []
    for index, seed in enumerate(args.seeds):
        if index == 1 and not args.skip_classic:
            result["classic"] = classic(args.data)
        load = load_average()
        seconds, history, _ = train(args.data, args.recipe, "--seed", str(seed))
        final = history["epochs"][-1]["test_acc"]
        runs.append({"seed": seed, "seconds": seconds, "final_test_acc": final,
                     "epochs": len(history["epochs"]), "bf16": history["meta"].get("bf16"),
                     "load_before": load})  # fmt: skip
        print(f"{args.recipe} seed {seed}: {seconds:.1f} s, final test {final:.2f}%", flush=True)
    if len(args.seeds) == 1 and not args.skip_classic:
        result["classic"] = classic(args.data)
    finals = [r["final_test_acc"] for r in runs]
    result.update(
        runs=runs,
        mean_seconds=statistics.mean(r["seconds"] for r in runs),
        mean_final_test_acc=statistics.mean(finals),
        std_final_test_acc=statistics.stdev(finals) if len(finals) > 1 else 0.0,
    )
    if "classic" in result:
        result["ratio"] = result["mean_seconds"] / result["classic"]["seconds"]
    save_result(HERE / "time_to_accuracy.json", result)
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
