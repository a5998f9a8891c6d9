"""Export every shipped model to ONNX fp32 and int8; measure accuracy, size and latency.

Usage::

    python benchmarks/deploy.py --data ../shared/data --out results
    python benchmarks/deploy.py --render results/deploy.json --out results   # table only
    python benchmarks/deploy.py --data ../shared/data --out /tmp/a --models lite10k
    python benchmarks/deploy.py --render results/deploy.json /tmp/a/deploy.json --out results

For each model with bundled weights: export it to ONNX with
:func:`mnistlite.export.export_model` (checked against PyTorch on the 10,000 test images),
quantize it to int8 with :func:`mnistlite.export.quantize_onnx` (calibrated on 2,000
training images), and measure with ONNX Runtime on the CPU: accuracy on the full test set,
bytes of weights and of the file, and the latency per image at batch 1 and at batch 1,000
(one thread, fastest call, CPU time). Writes ``OUT/deploy.json`` and ``OUT/deploy.md``.
The third and fourth lines measure one new model and join its row into the table. A row
whose model no longer has bundled weights is marked "weights withdrawn".
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from machine import cpu_flags
from tables import fill, markdown_table

from mnistlite import export, models, params
from mnistlite.atomic import atomic_write, save_json
from mnistlite.data import load_mnist
from mnistlite.export import onnx_latency

COMMAND = "python benchmarks/deploy.py --data ../shared/data --out results"
TARGET_PP = 0.3
FLAGS = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8"]


def cpu_description() -> str:
    """Model name and the instruction sets that matter for int8/bf16 kernels."""
    name, flags = cpu_flags()
    present, missing = [f for f in FLAGS if f in flags], [f for f in FLAGS if f not in flags]
    return f"{name} ({', '.join(present) or 'no AVX'}" + (
        f"; no {', '.join(missing)})" if missing else ")"
    )


def shipped_models() -> list[str]:
    """Registered models that have bundled weights, in registry order."""
    enums = {n: getattr(models, f"{n.capitalize()}_Weights", None) for n in models.list_models()}
    return [name for name, enum in enums.items() if enum is not None and len(enum)]


def _percent(same: torch.Tensor) -> float:
    return round(100.0 * float(same.float().mean()), 2)


def _onnx_row(path: Path, test, threads: int) -> tuple[dict, torch.Tensor]:
    """One ONNX file: accuracy, bytes, fastest CPU and wall time per image at batch 1, 1000."""
    logits = export.run_onnx(export.onnx_session(path), test.images)
    row = {"accuracy": _percent(logits.argmax(1) == test.labels),
           "weight_bytes": export.onnx_weight_bytes(path),
           "file_bytes": path.stat().st_size}  # fmt: skip
    for clock, prefix in (("cpu", "latency_us"), ("wall", "wall_us")):
        for batch, repeats in ((1, 200), (1000, 5)):
            seconds = onnx_latency(path, batch, threads=threads, repeats=repeats, clock=clock)
            row[f"{prefix}_batch{batch}"] = round(1e6 * seconds, 3)
    return row, logits


def measure(name: str, folder: Path, train, test, threads: int) -> dict:
    model = models.get_model(name, weights="DEFAULT").eval()
    fp32, int8 = folder / f"{name}.onnx", folder / f"{name}-int8.onnx"
    started = time.perf_counter()
    report = export.export_model(
        model, fp32, "onnx", check_images=test.images, check_labels=test.labels
    )
    export.quantize_onnx(fp32, int8, export.calibration_images(train.images))
    row = {"model": name, "params": params.count_parameters(model),
           "pytorch_accuracy": report.check.accuracy_torch,
           "fp32_agreement": report.check.agreement,
           "export_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    row["fp32"], fp32_logits = _onnx_row(fp32, test, threads)
    row["int8"], int8_logits = _onnx_row(int8, test, threads)
    row["int8_agreement"] = _percent(int8_logits.argmax(1) == fp32_logits.argmax(1))
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
    """results/deploy.md from deploy.json (the prose is benchmarks/templates/deploy.md)."""
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
    worst = min(result["models"], key=lambda r: r["int8_minus_fp32_pp"])
    within = all(r["int8_minus_fp32_pp"] >= -TARGET_PP for r in result["models"])
    verdict = (f"Largest int8 loss: {worst['model']}, {worst['int8_minus_fp32_pp']:+.2f} pp; "
               + ("every" if within else "NOT every")
               + f" measured model is within the {TARGET_PP} pp target.")  # fmt: skip
    table = "\n".join(markdown_table(columns, rows, "lrrrrrrrrr"))
    keys = ("calibration_images", "onnxruntime", "threads", "cpu")
    return fill("deploy.md", provenance=_provenance(result), table=table, verdict=verdict,
                **{k: result[k] for k in keys})  # fmt: skip


def join(paths: list[Path]) -> dict:
    """The results in ``paths`` as one: a later file's row replaces an earlier one's."""
    parts = [json.loads(path.read_text()) for path in paths]
    rows = {row["model"]: {**row, "command": row.get("command", part["command"])}
            for part in parts for row in part["models"]}  # fmt: skip
    order = models.list_models()
    return {**parts[0], "models": sorted(rows.values(), key=lambda r: order.index(r["model"]))}


def run(args) -> dict:
    """Measure ``args.models`` (default: every shipped model), saving after each model."""
    import onnxruntime

    torch.set_num_threads(args.threads)
    train, test = load_mnist(args.data, train=True), load_mnist(args.data, train=False)
    command = COMMAND + (" --models " + " ".join(args.models) if args.models else "")
    result = {"command": command, "cpu": cpu_description(), "threads": args.threads,
              "onnxruntime": onnxruntime.__version__, "torch": torch.__version__,
              "calibration_images": export.CALIBRATION_IMAGES, "models": []}  # fmt: skip
    done = {}
    if args.resume and (args.out / "deploy.json").is_file():
        done = {r["model"]: r for r in json.loads((args.out / "deploy.json").read_text())["models"]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name in args.models or shipped_models():
            row = done.get(name) or measure(name, folder, train, test, args.threads)
            row.setdefault("command", command)
            print(json.dumps(row), flush=True)
            result["models"].append(row)
            save_json(args.out / "deploy.json", result)  # after each model: resumable
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="MNIST root")
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--models", nargs="+", help="default: every shipped model")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads")
    parser.add_argument("--keep", type=Path, help="keep the .onnx files in this folder")
    parser.add_argument(
        "--render", type=Path, nargs="+", metavar="JSON", help="only render these (rows joined)"
    )
    parser.add_argument("--resume", action="store_true", help="keep the rows in OUT/deploy.json")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render is None and args.data is None:
        parser.error("--data is required unless --render is given")
    result = join(args.render) if args.render else run(args)
    if args.render:
        save_json(args.out / "deploy.json", result)
    text = render(result).encode()
    atomic_write(args.out / "deploy.md", lambda handle: handle.write(text))
    print(text.decode())


if __name__ == "__main__":
    main()
