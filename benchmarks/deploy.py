"""Export every shipped model to ONNX fp32 and int8; measure accuracy, size and latency.

Usage::

    python benchmarks/deploy.py --data ../shared/data --out results
    python benchmarks/deploy.py --render results/deploy.json --out results   # table only
    python benchmarks/deploy.py --data ../shared/data --out /tmp/a --models lite10k
    python benchmarks/deploy.py --render results/deploy.json /tmp/a/deploy.json --out results

For each model with bundled weights (steps 2-7 and the lite models): export it to ONNX
with :func:`mnistlite.export.export_model` (checked against PyTorch on the 10,000 test
images), quantize it to int8 with :func:`mnistlite.export.quantize_onnx` (calibrated on
2,000 training images), and measure with ONNX Runtime on the CPU: accuracy on the full
test set, bytes of weights and of the file, and the latency per image at batch 1 and at
batch 1,000 (one thread, fastest call, CPU time). Writes ``OUT/deploy.json`` and ``OUT/deploy.md``.
Replacing a model's bundled weights and rerunning regenerates the table (the third and
fourth lines: measure only the new model and join its row into the table). A row whose
model no longer has bundled weights is marked "weights withdrawn".
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import onnxruntime
import torch

from mnistlite import export, models, params
from mnistlite.atomic import atomic_write, save_json
from mnistlite.data import load_mnist
from mnistlite.export import onnx_latency as latency

try:  # run as a script (benchmarks/ on sys.path) or imported from the repository root
    from tables import markdown_table
except ImportError:
    from benchmarks.tables import markdown_table

COMMAND = "python benchmarks/deploy.py --data ../shared/data --out results"
TARGET_PP = 0.3


def cpu_description() -> str:
    """Model name and the instruction sets that matter for int8/bf16 kernels."""
    name, flags = platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8"]
    present = [f for f in wanted if f in flags]
    missing = [f for f in wanted if f not in flags]
    text = f"{name} ({', '.join(present) or 'no AVX'}"
    return text + (f"; no {', '.join(missing)})" if missing else ")")


def shipped_models() -> list[str]:
    """Registered models that have bundled weights, in registry order."""
    names = []
    for name in models.list_models():
        enum = getattr(models, f"{name.capitalize()}_Weights", None)
        if enum is not None and len(enum):
            names.append(name)
    return names


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return round(100.0 * float((logits.argmax(1) == labels).float().mean()), 2)


def us(path: Path, batch: int, threads: int, repeats: int, clock: str) -> float:
    """Microseconds per image of the fastest of ``repeats`` calls."""
    seconds = latency(path, batch, threads=threads, repeats=repeats, clock=clock)
    return round(1e6 * seconds, 3)


def measure(name: str, folder: Path, train, test, threads: int) -> dict:
    model = models.get_model(name, weights="DEFAULT").eval()
    fp32_path, int8_path = folder / f"{name}.onnx", folder / f"{name}-int8.onnx"
    started = time.perf_counter()
    report = export.export_model(
        model, fp32_path, "onnx", check_images=test.images, check_labels=test.labels
    )
    export.quantize_onnx(fp32_path, int8_path, export.calibration_images(train.images))
    seconds = time.perf_counter() - started
    row = {
        "model": name,
        "params": params.count_parameters(model),
        "pytorch_accuracy": report.check.accuracy_torch,
        "fp32_agreement": report.check.agreement,
        "export_seconds": round(seconds, 1),
    }
    logits = {}
    for kind, path in (("fp32", fp32_path), ("int8", int8_path)):
        logits[kind] = export.run_onnx(export.onnx_session(path), test.images)
        row[kind] = {
            "accuracy": accuracy(logits[kind], test.labels),
            "weight_bytes": export.onnx_weight_bytes(path),
            "file_bytes": path.stat().st_size,
            "latency_us_batch1": us(path, 1, threads, 200, "cpu"),
            "latency_us_batch1000": us(path, 1000, threads, 5, "cpu"),
            "wall_us_batch1": us(path, 1, threads, 200, "wall"),
            "wall_us_batch1000": us(path, 1000, threads, 5, "wall"),
        }
    row["int8_agreement"] = round(
        100.0 * float((logits["int8"].argmax(1) == logits["fp32"].argmax(1)).float().mean()), 2
    )
    row["int8_minus_fp32_pp"] = round(row["int8"]["accuracy"] - row["fp32"]["accuracy"], 2)
    return row


def _provenance(result: dict) -> str:
    """Each command that measured rows of the table, with the rows it measured."""
    by_command: dict[str, list[str]] = {}
    for row in result["models"]:
        by_command.setdefault(row.get("command", result["command"]), []).append(row["model"])
    if len(by_command) == 1:
        return f"`{next(iter(by_command))}`"
    return ", ".join(f"`{cmd}` ({', '.join(names)})" for cmd, names in by_command.items())


def render(result: dict) -> str:
    lines = [
        "# Deploying: ONNX fp32 and int8",
        "",
        f"Measured by {_provenance(result)}, written into `results/deploy.json` and this file "
        "(`python benchmarks/deploy.py --render results/deploy.json --out results` "
        "rewrites the table from the JSON).",
        "",
        "Each shipped model (bundled weights) exported with `mnistlite.export` "
        "(`mnistlite export MODEL --format onnx [--int8] --data ROOT --out FILE`): fp32 through "
        "the dynamo exporter with BatchNorm folded into the next convolution where exact; "
        "int8 by ONNX Runtime static QDQ quantization (int8 weights per channel, uint8 "
        "activations, ranges covering 99.999% of the values on "
        f"{result['calibration_images']:,} training images: ONNX Runtime's percentile "
        "calibration). "
        "Accuracy in percent on the 10,000 MNIST test images, run by ONNX Runtime "
        f"{result['onnxruntime']}. Weight bytes: all initializers in the file (for int8: "
        "the 8-bit weights plus int32 biases and the scales and zero points).",
        "",
        f"Latency: ONNX Runtime on the CPU, {result['threads']} intra-op thread, in "
        "microseconds per image: the fastest of 200 calls at batch 1 and of 5 calls at "
        "batch 1,000, divided by the batch size, measured as the process's CPU time "
        "(`time.process_time`). The machine's 2 cores were shared with training jobs while "
        "this ran; CPU time leaves out the time they took (with one thread it is the wall "
        "time of an idle machine), while cache sharing still slows the large batches. The "
        "fastest wall-clock times are in `results/deploy.json` (`wall_us_*`). "
        f"CPU: {result['cpu']}.",
        "",
    ]
    shipped, rows = shipped_models(), []
    for row in result["models"]:
        f, q = row["fp32"], row["int8"]
        name = row["model"] if row["model"] in shipped else f"{row['model']} (weights withdrawn)"
        rows.append(
            [name, f"{row['params']:,}", f"{row['pytorch_accuracy']:.2f}",
             f"{f['accuracy']:.2f}", f"{q['accuracy']:.2f}", f"{row['int8_minus_fp32_pp']:+.2f}",
             f"{f['weight_bytes']:,} → {q['weight_bytes']:,}",
             f"{f['file_bytes']:,} → {q['file_bytes']:,}",
             f"{f['latency_us_batch1']:.1f} / {q['latency_us_batch1']:.1f}",
             f"{f['latency_us_batch1000']:.2f} / {q['latency_us_batch1000']:.2f}"]
        )  # fmt: skip
    measured = {row["model"] for row in result["models"]}
    rows += [[name, "not measured yet", *[""] * 8] for name in shipped if name not in measured]
    columns = ["model", "params", "PyTorch", "ONNX fp32", "ONNX int8", "int8 − fp32 (pp)",
               "weight bytes fp32 → int8", "file bytes fp32 → int8",
               "µs/image batch 1 fp32 / int8", "µs/image batch 1,000 fp32 / int8"]  # fmt: skip
    lines += markdown_table(columns, rows, "lrrrrrrrrr")
    worst = min(result["models"], key=lambda r: r["int8_minus_fp32_pp"])
    within = all(r["int8_minus_fp32_pp"] >= -TARGET_PP for r in result["models"])
    lines += [
        "",
        f"Largest int8 loss: {worst['model']}, {worst['int8_minus_fp32_pp']:+.2f} pp; "
        + (
            f"every measured model is within the {TARGET_PP} pp target."
            if within
            else f"NOT every measured model is within the {TARGET_PP} pp target."
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="MNIST root")
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--models", nargs="+", help="default: every shipped model")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads")
    parser.add_argument("--keep", type=Path, help="keep the .onnx files in this folder")
    parser.add_argument(
        "--render",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="only rewrite deploy.json and deploy.md from these JSON files (rows joined)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the models already in OUT/deploy.json"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render is not None:
        parts = [json.loads(path.read_text()) for path in args.render]
        # a later part's row replaces an earlier one; each row keeps the command that made it
        rows = {
            row["model"]: {**row, "command": row.get("command", part["command"])}
            for part in parts
            for row in part["models"]
        }
        order = models.list_models()
        result = {
            **parts[0],
            "models": sorted(rows.values(), key=lambda r: order.index(r["model"])),
        }
        save_json(args.out / "deploy.json", result)
    else:
        if args.data is None:
            parser.error("--data is required unless --render is given")
        torch.set_num_threads(args.threads)
        train = load_mnist(args.data, train=True)
        test = load_mnist(args.data, train=False)
        command = COMMAND + (" --models " + " ".join(args.models) if args.models else "")
        result = {
            "command": command,
            "cpu": cpu_description(),
            "threads": args.threads,
            "onnxruntime": onnxruntime.__version__,
            "torch": torch.__version__,
            "calibration_images": export.CALIBRATION_IMAGES,
            "models": [],
        }
        done = {}
        if args.resume and (args.out / "deploy.json").is_file():
            done = {
                r["model"]: r for r in json.loads((args.out / "deploy.json").read_text())["models"]
            }
        names = args.models or shipped_models()
        with tempfile.TemporaryDirectory() as tmp:
            folder = args.keep or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            for name in names:
                row = done.get(name) or {
                    **measure(name, folder, train, test, args.threads),
                    "command": command,
                }
                print(json.dumps(row), flush=True)
                result["models"].append(row)
                save_json(args.out / "deploy.json", result)  # after each model: resumable
    text = render(result)
    atomic_write(args.out / "deploy.md", lambda handle: handle.write(text.encode()))
    print(text)


if __name__ == "__main__":
    main()
