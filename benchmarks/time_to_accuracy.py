"""Time to 99.4%: the `fast` recipe against the notebooks' step-7 recipe, classic pipeline.

Usage: python benchmarks/time_to_accuracy.py --data ../shared/data [--seeds 1 2 3]

Whole processes: ``mnistlite train fast --seed S`` per seed (the final epoch counts), and
``classic.py`` stopping at the target (``targets.json``), run between the first two seeds.
"""

import argparse
import statistics
import sys

import results_md
from classic import last_epoch
from common import HERE, TARGETS, load_average, save_result, timed, train


def classic(root: str) -> dict:
    """Train the notebooks' step-7 recipe the classic way to the target accuracy."""
    load = load_average()
    seconds, stdout = timed([sys.executable, str(HERE / "classic.py"), "--data", root,
                             "--epochs", str(TARGETS["classic_max_epochs"]),
                             "--target", str(TARGETS["accuracy_target"])])  # fmt: skip
    line = stdout.strip().splitlines()[-1]
    print(f"classic: {seconds:.1f} s ({line})", flush=True)
    epochs, acc = last_epoch(stdout)
    return {"part": "classic", "run": "classic step-7 recipe", "seconds": seconds,
            "last_epoch": line, "epochs": epochs, "test_acc": acc, "load_before": load}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--skip-classic", action="store_true")
    args = parser.parse_args()
    rows = []
    for index, seed in enumerate(args.seeds):
        if index == min(1, len(args.seeds) - 1) and not args.skip_classic:
            rows.append(classic(args.data))
        load = load_average()
        seconds, (history,), _ = train(args.data, args.recipe, "--seed", str(seed))
        final = history["epochs"][-1]["test_acc"]
        rows.append({"part": "runs", "recipe": args.recipe, "seed": seed, "seconds": seconds,
                     "final_test_acc": final, "epochs": len(history["epochs"]),
                     "bf16": history["meta"].get("bf16"), "load_before": load})  # fmt: skip
        print(f"{args.recipe} seed {seed}: {seconds:.1f} s, final test {final:.2f}%", flush=True)
    runs = [r for r in rows if r["part"] == "runs"]
    finals = [r["final_test_acc"] for r in runs]
    mean = {"part": "mean", "recipe": args.recipe, "seeds": args.seeds,
            "seconds": statistics.mean(r["seconds"] for r in runs),
            "final_test_acc": statistics.mean(finals),
            "std_final_test_acc": statistics.stdev(finals) if len(finals) > 1 else 0.0}  # fmt: skip
    if not args.skip_classic:
        mean["ratio"] = mean["seconds"] / next(r for r in rows if r["part"] == "classic")["seconds"]
    save_result(HERE / "time_to_accuracy.json", [*rows, mean], {"recipe": args.recipe})
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
