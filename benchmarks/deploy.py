"""Export every shipped model to every format; measure accuracy, bytes and ONNX latency.

Usage: python benchmarks/deploy.py --data ../shared/data --out results [--models lite10k]
       python benchmarks/deploy.py --render results/deploy.json [OTHER.json] --out results

Rows of part ``onnx`` (ONNX fp32 and int8 run by ONNX Runtime on the CPU) and ``bytes``
(every format's bytes and test accuracy), as ``templates/deploy.md`` says; ``--render``
joins the rows of several files (a later row wins).
"""

import argparse
import json
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import torch
from common import TARGETS, cpu_flags, fill, load, save_result

from mnistlite import export, export_pte, models, params
from mnistlite.atomic import atomic_write, save_torch
from mnistlite.data import load_mnist
from mnistlite.export import onnx_latency
from mnistlite.export_weightonly import quantize_weights_onnx

COMMAND = "python benchmarks/deploy.py --data ../shared/data --out results"
FLAGS = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8"]
INT8_VS_FP32 = {"onnx": ("onnx_fp32", "onnx_int8"), "pte": ("pte_fp32", "pte_int8"),
                "weights only": ("onnx_fp32", "onnx_int8_weights")}  # fmt: skip


def cpu_description() -> str:
    """Model name and the instruction sets that matter for int8/bf16 kernels."""
    name, flags = cpu_flags()
    present = ", ".join(f for f in FLAGS if f in flags) or "no AVX"
    missing = ", ".join(f for f in FLAGS if f not in flags)
    return f"{name} ({present}" + (f"; no {missing})" if missing else ")")


def shipped_models() -> list[str]:
    """Registered models that have bundled weights, in registry order."""
    enums = {n: getattr(models, f"{n.capitalize()}_Weights", None) for n in models.list_models()}
    return [name for name, enum in enums.items() if enum is not None and len(enum)]


def _percent(a: torch.Tensor, b: torch.Tensor) -> float:
    return round(100.0 * float((a == b).float().mean()), 2)


def _onnx_row(path: Path, test, threads: int) -> tuple[dict, torch.Tensor]:
    """One ONNX file: accuracy, bytes, fastest CPU and wall time per image at batch 1, 1000."""
    logits = export.run_onnx(export.onnx_session(path), test.images)
    row = {"accuracy": _percent(logits.argmax(1), test.labels), "file_bytes": path.stat().st_size,
           "weight_bytes": export.onnx_weight_bytes(path)}  # fmt: skip
    for clock, prefix in (("cpu", "latency_us"), ("wall", "wall_us")):
        for batch, repeats in ((1, 200), (1000, 5)):
            seconds = onnx_latency(path, batch, threads=threads, repeats=repeats, clock=clock)
            row[f"{prefix}_batch{batch}"] = round(1e6 * seconds, 3)
    return row, logits


def measure(name: str, folder: Path, train, test, threads: int) -> list[dict]:
    """Export ``name`` to every format in ``folder``; its ``onnx`` row and its ``bytes`` row."""
    model = models.get_model(name, weights="DEFAULT").eval()
    fp32, int8 = folder / f"{name}.onnx", folder / f"{name}-int8.onnx"
    started, calibration = time.perf_counter(), export.calibration_images(train.images)
    report = export.export_model(model, fp32, "onnx", check_images=test.images,
                                 check_labels=test.labels)  # fmt: skip
    export.quantize_onnx(fp32, int8, calibration)
    row = {"part": "onnx", "model": name, "params": params.count_parameters(model),
           "pytorch_accuracy": report.check.accuracy_torch,
           "fp32_agreement": report.check.agreement,
           "export_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    row["fp32"], fp32_logits = _onnx_row(fp32, test, threads)
    row["int8"], int8_logits = _onnx_row(int8, test, threads)
    row["int8_agreement"] = _percent(int8_logits.argmax(1), fp32_logits.argmax(1))
    row["int8_minus_fp32_pp"] = round(row["int8"]["accuracy"] - row["fp32"]["accuracy"], 2)
    return [row, measure_bytes(name, model, folder, fp32, calibration, test)]


def measure_bytes(name: str, model, folder: Path, fp32: Path, calibration, test) -> dict:
    """The ``bytes`` row: ``.pt``, safetensors, weight-only int8 ONNX, ``.pte`` fp32 and int8."""
    from safetensors.torch import load_file, save_file

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    check = {"check_images": test.images, "check_labels": test.labels}
    pt, st = save_torch(folder / f"{name}.pt", state), folder / f"{name}.safetensors"
    save_file(state, str(st))
    out = {"part": "bytes", "model": name, "params": params.count_parameters(model)}
    for key, path, saved in (("pt", pt, torch.load(pt, weights_only=True)),
                             ("safetensors", st, load_file(str(st)))):  # fmt: skip
        fresh = models.get_model(name).eval()
        fresh.load_state_dict(saved)
        with torch.inference_mode():
            logits = torch.cat([fresh(batch) for batch in test.images.split(1000)])
        accuracy = _percent(logits.argmax(1), test.labels)
        out[key] = {"file_bytes": path.stat().st_size, "accuracy": accuracy}
    weights = quantize_weights_onnx(fp32, folder / f"{name}-int8-weights.onnx")
    logits = export.run_onnx(export.onnx_session(weights), test.images)
    out["onnx_int8_weights"] = {"file_bytes": weights.stat().st_size,
                                "accuracy": _percent(logits.argmax(1), test.labels)}  # fmt: skip
    for key, int8 in (("pte_fp32", False), ("pte_int8", True)):
        report = export.export_model(model, folder / f"{name}-{key}.pte", "pte", int8=int8,
                                     calibration=calibration, **check)  # fmt: skip
        out[key] = {"file_bytes": report.file_bytes, "accuracy": report.check.accuracy_export,
                    "agreement": report.check.agreement}  # fmt: skip
    return out


def _provenance(result: dict) -> str:
    """Each command that measured rows of the tables, with the models it measured."""
    by_command: dict[str, list[str]] = {}
    for row in result["rows"]:
        names = by_command.setdefault(row.get("command", result["command"]), [])
        names += [row["model"]] if row["model"] not in names else []
    several = len(by_command) > 1  # then each command names its models
    return ", ".join(f"`{cmd}`" + f" ({', '.join(names)})" * several
                     for cmd, names in by_command.items())  # fmt: skip


def render(result: dict) -> str:
    """results/deploy.md from deploy.json (the prose is benchmarks/templates/deploy.md)."""
    shipped, target = shipped_models(), TARGETS["int8_max_loss_pp"]
    parts: dict[str, list] = {"onnx": [], "bytes": []}
    for row in result["rows"]:
        withdrawn = "" if row["model"] in shipped else " (weights withdrawn)"
        parts[row.get("part", "onnx")].append({**row, "label": row["model"] + withdrawn})
    rows, sizes, onnx = parts["onnx"], parts["bytes"], {r["model"]: r for r in parts["onnx"]}
    for row in sizes:  # ONNX fp32 and int8 from the onnx row; each int8 file against fp32
        row.update(onnx_fp32=onnx[row["model"]]["fp32"], onnx_int8=onnx[row["model"]]["int8"])
        row["change"] = {k: row[q]["file_bytes"] / row[f]["file_bytes"] - 1
                         for k, (f, q) in INT8_VS_FP32.items()}  # fmt: skip
        row["smaller"] = {k: c < 0 for k, c in row["change"].items()}
    losers = [f"{r['model']} ({k})" for r in sizes for k, s in r["smaller"].items() if not s]
    return fill("deploy.md", machine=result["machine"], settings=result["settings"],
                provenance=_provenance(result), target=target, rows=rows, bytes=sizes,
                missing=[{"model": n} for n in shipped if n not in onnx],
                worst=min(rows, key=lambda r: r["int8_minus_fp32_pp"]),
                within=all(r["int8_minus_fp32_pp"] >= -target for r in rows),
                **({"losers": losers} if losers else {"none": ""}))  # fmt: skip


def join(paths: list[Path]) -> dict:
    """The results in ``paths`` as one: a later file's row replaces an earlier one's."""
    parts, order = [load(path) for path in paths], models.list_models()
    rows = [{"part": "onnx", **row, "command": row.get("command", p["command"])}
            for p in parts for row in p["rows"]]  # fmt: skip
    rows = {(row["part"], row["model"]): row for row in rows}  # a later row wins
    key = lambda r: (r["part"] != "onnx", order.index(r["model"]))  # noqa: E731
    return {**parts[0], "rows": sorted(rows.values(), key=key)}


def run(args: argparse.Namespace) -> dict:
    """Measure ``args.models`` (default: every shipped model), saving after each model."""
    _, onnxruntime = export.require_onnx()  # the export extra and executorch, before measuring
    export_pte.require_executorch()
    torch.set_num_threads(args.threads)
    train, test = load_mnist(args.data, train=True), load_mnist(args.data, train=False)
    command = COMMAND + (" --models " + " ".join(args.models) if args.models else "")
    machine = {"summary": cpu_description(), "threads": args.threads, "torch": torch.__version__,
               "onnxruntime": onnxruntime.__version__, "executorch": version("executorch"),
               "safetensors": version("safetensors")}  # fmt: skip
    settings = {"calibration_images": export.CALIBRATION_IMAGES}
    path, rows, done = args.out / "deploy.json", [], {}
    for row in join([path])["rows"] if args.resume and path.is_file() else []:
        done.setdefault(row["model"], []).append(row)
    with tempfile.TemporaryDirectory() as tmp:
        (folder := args.keep or Path(tmp)).mkdir(parents=True, exist_ok=True)
        for name in args.models or shipped_models():
            for row in done.get(name) or measure(name, folder, train, test, args.threads):
                rows.append({**row, "command": row.get("command", command)})
                print(json.dumps(rows[-1]), flush=True)
            by_part = [row for part in ("onnx", "bytes") for row in rows if row["part"] == part]
            save_result(path, by_part, settings, machine, command)  # after each: resumable
    return load(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="MNIST root")
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--models", nargs="+", help="default: every shipped model")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads")
    parser.add_argument("--keep", type=Path, help="keep the exported files in this folder")
    parser.add_argument("--render", type=Path, nargs="+", metavar="JSON", help="only render")
    parser.add_argument("--resume", action="store_true", help="keep the rows in OUT/deploy.json")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render is None and args.data is None:
        parser.error("--data is required unless --render is given")
    result = join(args.render) if args.render else run(args)
    fields = [result[key] for key in ("rows", "settings", "machine", "command")]
    save_result(args.out / "deploy.json", *fields)
    print(text := render(result))
    atomic_write(args.out / "deploy.md", lambda handle: handle.write(text.encode()))


if __name__ == "__main__":
    main()
