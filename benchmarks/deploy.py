"""Export every shipped model to every format; measure accuracy, bytes and ONNX latency.

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
(one thread, fastest call, CPU time). Then the bytes of every format: the state dict
saved by ``torch.save`` (``.pt``) and by ``safetensors.torch.save_file``, the ONNX files
above, an ONNX file with weight-only int8 (per tensor,
:func:`mnistlite.export_weightonly.quantize_weights_onnx`) and ExecuTorch programs fp32
and int8 (:mod:`mnistlite.export_pte`, checked through ``executorch.runtime`` on the test
set), each with its test accuracy. Writes ``OUT/deploy.json`` and ``OUT/deploy.md``.
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

from mnistlite import export, export_pte, models, params
from mnistlite.atomic import atomic_write, save_json, save_torch
from mnistlite.data import load_mnist
from mnistlite.export import onnx_latency
from mnistlite.export_weightonly import quantize_weights_onnx

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
    row["bytes"] = measure_bytes(name, model, folder, fp32, train, test)
    return row


#: How each file of the bytes table is made (MODEL, ROOT, FILE: placeholders).
HOW = {
    "pt": "torch.save(model.state_dict(), FILE)",
    "safetensors": "safetensors.torch.save_file(model.state_dict(), FILE)",
    "onnx_fp32": "mnistlite export MODEL --format onnx --data ROOT --out FILE",
    "onnx_int8": "mnistlite export MODEL --format onnx --int8 --data ROOT --out FILE",
    "onnx_int8_weights": "mnistlite.export_weightonly.quantize_weights_onnx(ONNX_FP32, FILE)",
    "pte_fp32": "mnistlite export MODEL --format pte --data ROOT --out FILE",
    "pte_int8": "mnistlite export MODEL --format pte --int8 --data ROOT --out FILE",
}


def _state_dict_files(name: str, model, folder: Path, test) -> dict:
    """``.pt`` and safetensors: bytes, and the accuracy of a fresh model loaded from each."""
    from safetensors.torch import load_file, save_file

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    pt, st = folder / f"{name}.pt", folder / f"{name}.safetensors"
    save_torch(pt, state)
    save_file(state, str(st))
    out = {}
    for key, path, load in (("pt", pt, lambda p: torch.load(p, weights_only=True)),
                            ("safetensors", st, lambda p: load_file(str(p)))):  # fmt: skip
        fresh = models.get_model(name).eval()
        fresh.load_state_dict(load(path))
        with torch.inference_mode():
            logits = torch.cat([fresh(b) for b in test.images.split(1000)])
        out[key] = {"file_bytes": path.stat().st_size,
                    "accuracy": _percent(logits.argmax(1) == test.labels)}  # fmt: skip
    return out


def measure_bytes(name: str, model, folder: Path, fp32: Path, train, test) -> dict:
    """File bytes and test accuracy of the formats beyond ONNX fp32/int8."""
    out = _state_dict_files(name, model, folder, test)
    weights = quantize_weights_onnx(fp32, folder / f"{name}-int8-weights.onnx")
    logits = export.run_onnx(export.onnx_session(weights), test.images)
    out["onnx_int8_weights"] = {"file_bytes": weights.stat().st_size,
                                "accuracy": _percent(logits.argmax(1) == test.labels)}  # fmt: skip
    calibration = export.calibration_images(train.images)
    for key, int8 in (("pte_fp32", False), ("pte_int8", True)):
        report = export.export_model(
            model, folder / f"{name}-{key}.pte", "pte", int8=int8,
            calibration=calibration if int8 else None,
            check_images=test.images, check_labels=test.labels,
        )  # fmt: skip
        out[key] = {"file_bytes": report.file_bytes, "accuracy": report.check.accuracy_export,
                    "agreement": report.check.agreement}  # fmt: skip
    return out


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
    bytes_table, bytes_verdict = render_bytes(result, shipped)
    how = "\n".join(f"- {BYTES_COLUMNS[k]}: `{v}`" for k, v in HOW.items())
    return fill("deploy.md", provenance=_provenance(result), table=table, verdict=verdict,
                bytes_table=bytes_table, bytes_verdict=bytes_verdict, how=how,
                executorch=result.get("executorch", "not installed"),
                **{k: result[k] for k in keys})  # fmt: skip


BYTES_COLUMNS = {"pt": "`.pt`", "safetensors": "safetensors", "onnx_fp32": "ONNX fp32",
                 "onnx_int8": "ONNX int8", "onnx_int8_weights": "ONNX int8 weights only",
                 "pte_fp32": "`.pte` fp32", "pte_int8": "`.pte` int8"}  # fmt: skip


def _files(row: dict) -> dict | None:
    """Bytes and accuracy of every format of one row (None before the bytes were measured)."""
    if "bytes" not in row:
        return None
    onnx = {"onnx_fp32": row["fp32"], "onnx_int8": row["int8"]}
    return {**row["bytes"], **{k: {"file_bytes": v["file_bytes"], "accuracy": v["accuracy"]}
                               for k, v in onnx.items()}}  # fmt: skip


def _pays(files: dict, fp32: str, int8: str) -> str:
    change = files[int8]["file_bytes"] / files[fp32]["file_bytes"] - 1
    return f"{'yes' if change < 0 else '**no**'} ({change:+.0%})"


def render_bytes(result: dict, shipped: list[str]) -> tuple[str, str]:
    """The bytes table (file bytes and test accuracy per format) and which int8 files pay."""
    rows, losers = [], []
    for row in result["models"]:
        name = row["model"] if row["model"] in shipped else f"{row['model']} (weights withdrawn)"
        files = _files(row)
        if files is None:
            rows.append([name, "not measured yet", *[""] * (len(BYTES_COLUMNS) + 1)])
            continue
        cells = [f"{files[k]['file_bytes']:,} ({files[k]['accuracy']:.2f})" for k in BYTES_COLUMNS]
        pays = {k: _pays(files, f"{k}_fp32", f"{k}_{q}")
                for k, q in (("onnx", "int8"), ("pte", "int8"))}  # fmt: skip
        weights = _pays(files, "onnx_fp32", "onnx_int8_weights")
        losers += [f"{row['model']} ({k})" for k, v in pays.items() if v.startswith("**no")]
        verdict = f"ONNX {pays['onnx']}, weights only {weights}; .pte {pays['pte']}"
        rows.append([name, f"{row['params']:,}", *cells, verdict])
    columns = ["model", "params", *BYTES_COLUMNS.values(), "int8 smaller than fp32?"]
    table = "\n".join(markdown_table(columns, rows, "lr" + "r" * len(BYTES_COLUMNS) + "l"))
    verdict = (
        "int8 does **not** pay for itself in bytes for: " + ", ".join(losers) + "."
        if losers
        else "Every int8 file is smaller than its fp32 file."
    )
    return table, verdict


def join(paths: list[Path]) -> dict:
    """The results in ``paths`` as one: a later file's row replaces an earlier one's."""
    parts = [json.loads(path.read_text()) for path in paths]
    rows = {row["model"]: {**row, "command": row.get("command", part["command"])}
            for part in parts for row in part["models"]}  # fmt: skip
    order = models.list_models()
    return {**parts[0], "models": sorted(rows.values(), key=lambda r: order.index(r["model"]))}


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def run(args) -> dict:
    """Measure ``args.models`` (default: every shipped model), saving after each model."""
    import onnxruntime

    export_pte.require_executorch()

    torch.set_num_threads(args.threads)
    train, test = load_mnist(args.data, train=True), load_mnist(args.data, train=False)
    command = COMMAND + (" --models " + " ".join(args.models) if args.models else "")
    result = {"command": command, "cpu": cpu_description(), "threads": args.threads,
              "onnxruntime": onnxruntime.__version__, "torch": torch.__version__,
              "executorch": _version("executorch"), "safetensors": _version("safetensors"),
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
