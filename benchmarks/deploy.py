"""Export every shipped model to ONNX fp32 and int8; measure accuracy, size and latency.

Usage::

    python benchmarks/deploy.py --data ../shared/data --out results [--models lite10k]
    python benchmarks/deploy.py --render results/deploy.json [OTHER.json] --out results

Exports (checked against PyTorch on the test set), quantizes (calibrated on 2,000 training
images) and measures with ONNX Runtime on the CPU; writes ``OUT/deploy.json`` and
``OUT/deploy.md``. ``--render`` joins the rows of several files (a later row wins).
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from common import TARGETS, cpu_flags, fill, load, save_result

from mnistlite import export, models, params
from mnistlite.atomic import atomic_write
from mnistlite.data import load_mnist
from mnistlite.export import onnx_latency

COMMAND = "python benchmarks/deploy.py --data ../shared/data --out results"
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
    """Export ``name`` to fp32 and int8 ONNX in ``folder``; both files' measurements."""
    model = models.get_model(name, weights="DEFAULT").eval()
    fp32, int8 = folder / f"{name}.onnx", folder / f"{name}-int8.onnx"
    started = time.perf_counter()
    report = export.export_model(model, fp32, "onnx", check_images=test.images,
                                 check_labels=test.labels)  # fmt: skip
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
    for row in result["rows"]:
        by_command.setdefault(row.get("command", result["command"]), []).append(row["model"])
    if len(by_command) == 1:
        return f"`{next(iter(by_command))}`"
    return ", ".join(f"`{cmd}` ({', '.join(names)})" for cmd, names in by_command.items())


def render(result: dict) -> str:
    """results/deploy.md from deploy.json (the prose is benchmarks/templates/deploy.md)."""
    shipped, rows = shipped_models(), result["rows"]
    target = TARGETS["int8_max_loss_pp"]
    within = all(r["int8_minus_fp32_pp"] >= -target for r in rows)
    withdrawn = {r["model"]: "" if r["model"] in shipped else " (weights withdrawn)" for r in rows}
    return fill("deploy.md", machine=result["machine"], settings=result["settings"],
                provenance=_provenance(result), target=target,
                rows=[{**r, "label": r["model"] + withdrawn[r["model"]]} for r in rows],
                missing=[{"model": n} for n in shipped if n not in {r["model"] for r in rows}],
                worst=min(rows, key=lambda r: r["int8_minus_fp32_pp"]),
                every="every" if within else "NOT every")  # fmt: skip


def join(paths: list[Path]) -> dict:
    """The results in ``paths`` as one: a later file's row replaces an earlier one's."""
    parts = [load(path) for path in paths]
    rows = {row["model"]: {**row, "command": row.get("command", part["command"])}
            for part in parts for row in part["rows"]}  # fmt: skip
    order = models.list_models()
    return {**parts[0], "rows": sorted(rows.values(), key=lambda r: order.index(r["model"]))}


def run(args: argparse.Namespace) -> dict:
    """Measure ``args.models`` (default: every shipped model), saving after each model."""
    import onnxruntime

    torch.set_num_threads(args.threads)
    train, test = load_mnist(args.data, train=True), load_mnist(args.data, train=False)
    command = COMMAND + (" --models " + " ".join(args.models) if args.models else "")
    machine = {"summary": cpu_description(), "threads": args.threads,
               "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}  # fmt: skip
    settings = {"calibration_images": export.CALIBRATION_IMAGES}
    path, rows = args.out / "deploy.json", []
    done = {r["model"]: r for r in load(path)["rows"]} if args.resume and path.is_file() else {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name in args.models or shipped_models():
            rows.append(done.get(name) or measure(name, folder, train, test, args.threads))
            rows[-1].setdefault("command", command)
            print(json.dumps(rows[-1]), flush=True)
            save_result(path, rows, settings, machine, command)  # after each model: resumable
    return load(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="MNIST root")
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--models", nargs="+", help="default: every shipped model")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads")
    parser.add_argument("--keep", type=Path, help="keep the .onnx files in this folder")
    parser.add_argument("--render", type=Path, nargs="+", metavar="JSON",
                        help="only render these (rows joined)")  # fmt: skip
    parser.add_argument("--resume", action="store_true", help="keep the rows in OUT/deploy.json")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render is None and args.data is None:
        parser.error("--data is required unless --render is given")
    result = join(args.render) if args.render else run(args)
    if args.render:
        save_result(args.out / "deploy.json", result["rows"], result["settings"],
                    result["machine"], result["command"])  # fmt: skip
    text = render(result).encode()
    atomic_write(args.out / "deploy.md", lambda handle: handle.write(text))
    print(text.decode())


if __name__ == "__main__":
    main()
