"""On a CUDA GPU: time the step-7 recipe and ``fast``, and count host synchronisations.

Usage: python benchmarks/gpu_timing.py --data ROOT --out benchmarks/gpu_timing.json

1. Host synchronisations: one epoch of ``recipes.train("step7")`` with the progress bar
   on, under ``torch.cuda.set_sync_debug_mode("warn")``, on 40 and on 80 batches. If
   the loop synchronised per batch, the 80-batch epoch would warn more often than the
   40-batch one; the counts are recorded.
2. ``mnistlite train step7 --device cuda`` and ``mnistlite train fast --device cuda``
   (CLI defaults: bf16 auto, which is on for a GPU with bf16), each timed as a whole
   process, with the final test accuracy from its history.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from mnistlite import data, recipes


def count_syncs(root: str, batches: int) -> int:
    """Synchronisation warnings during one step-7 epoch of ``batches`` batches on CUDA."""
    recipe = recipes.get_recipe("step7", epochs=1)
    train = data.load_mnist(root, train=True, device="cuda")
    test = data.load_mnist(root, train=False, device="cuda").take(1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            recipes.train(
                recipe,
                data=(train, test),
                device="cuda",
                progress=True,
                limit_train=batches * recipe.batch_size,
            )
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def time_cli(root: str, name: str, out: Path) -> dict:
    """Run ``mnistlite train NAME --device cuda`` as its own process and time it."""
    cmd = [sys.executable, "-m", "mnistlite", "train", name, "--device", "cuda"]
    cmd += ["--data", root, "--out", str(out), "--no-progress"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - start
    history = json.loads((out / "history.json").read_text())
    return {
        "command": f"mnistlite train {name} --device cuda --seed 1",
        "seconds": round(seconds, 1),
        "epochs": len(history["epochs"]),
        "final_test_acc": history["epochs"][-1]["test_acc"],
        "bf16": history["meta"].get("bf16"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    record = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "sync_warnings": {str(n): count_syncs(args.data, n) for n in (40, 80)},
    }
    print(record, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        record["runs"] = [time_cli(args.data, name, Path(tmp) / name) for name in ("step7", "fast")]
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
