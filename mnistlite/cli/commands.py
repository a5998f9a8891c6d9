"""What each ``mnistlite`` subcommand does: call the library, print what it returns.

A handler takes the parsed arguments and returns the exit status. It computes nothing of
its own: training, evaluation, export, prediction and sweeps are the library's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mnistlite.errors import MnistliteError

__all__: list[str] = []


def _cmd_train(args: argparse.Namespace) -> int:
    from mnistlite import recipes, runs
    from mnistlite.training import devices

    fields = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "ema": args.ema}
    overrides = {key: value for key, value in fields.items() if value is not None}
    recipe = recipes.get_recipe(args.recipe, **overrides)
    if args.plot:
        from mnistlite.plots import require_matplotlib

        require_matplotlib()
    out = Path(args.out if args.out is not None else Path("runs") / recipe.name)
    print(devices.describe(args.device, args.bf16), flush=True)
    run = runs.train(
        recipe,
        root=args.data,
        download=args.download,
        out=out,
        seed=args.seed,
        seeds=args.seeds,
        device=args.device,
        resume=args.resume,
        progress=not args.no_progress,
        limit_train=args.limit_train,
        val_split=args.val_split,
        channels_last=args.channels_last,
        compile=args.compile,
        bf16=args.bf16,
        cuda_graphs=args.cuda_graphs,
        stack_mode=args.stack_mode,
    )
    print(run.report())
    if args.plot:
        from mnistlite.plots import plot_history, save_figure

        for seed, history in zip(run.seeds, run.histories, strict=True):
            assert run.out is not None
            path = save_figure(plot_history(history), run.out.folder(seed) / "history.png")
            print(f"wrote {path}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from mnistlite import models, params, recipes

    print("models:")
    for name in models.list_models():
        builder = models.get_model_builder(name)
        count = params.count_parameters(builder())
        print(f"  {name:<10}{count:>12,} parameters")
    print("recipes:")
    for name in recipes.list_recipes():
        r = recipes.get_recipe(name)
        extras = [f"schedule={r.schedule}"] if r.schedule != "constant" else []
        extras += [f"rotation={r.rotation:g}"] if r.rotation else []
        extras += [f"teacher={r.teacher}"] if r.teacher else []
        extras += [f"ema={r.ema:g}"] if r.ema is not None else []
        extras += [
            f"on {device}: " + " ".join(f"{k}={v}" for k, v in changes.items())
            for device, changes in r.device_overrides.items()
        ]
        print(
            f"  {name:<10}model={r.model} epochs={r.epochs} batch={r.batch_size} lr={r.lr:g} "
            + " ".join(extras)
        )
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from mnistlite import models, params

    result = params.summary(models.get_model(args.model))
    print(json.dumps(result.to_dict(), indent=2) if args.json else result)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from mnistlite import models
    from mnistlite.data import load_mnist
    from mnistlite.training import Trainer, resolve_device

    model = models.get_model(args.model, weights=args.weights)
    device = resolve_device(args.device)
    test = load_mnist(args.data, train=False, download=args.download, device=device)
    result = Trainer(model, device=device, progress=False).evaluate(test)
    loss, acc = result["loss"], result["accuracy"]
    if args.json:
        print(
            json.dumps(
                {"model": args.model, "weights": args.weights, "test_loss": loss, "test_acc": acc}
            )
        )
    else:
        print(
            f"{args.model} ({args.weights}): test loss {loss:.4f}, "
            f"test accuracy {acc:.2f}% on {len(test):,} images"
        )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from mnistlite import export, models
    from mnistlite.data import load_mnist

    if args.format not in export.FORMATS:
        raise MnistliteError(
            f"unknown --format {args.format!r}; expected one of {', '.join(export.FORMATS)}"
        )
    if args.int8 and args.data is None:
        raise MnistliteError("--int8 needs --data ROOT: calibration uses the MNIST training images")
    if args.format in ("onnx", "web"):
        export.require_onnx()
    if args.format == "pte":
        from mnistlite.export_pte import require_executorch

        require_executorch()
    out = Path(args.out)
    if args.format == "web":
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise MnistliteError(f"--out {out} must be a new or empty folder for --format web")
    elif out.is_dir() or not out.parent.is_dir():
        raise MnistliteError(f"--out {out} must be a file in an existing folder")
    model = models.get_model(args.model, weights=args.weights).eval()
    calibration = check = labels = None
    if args.data is not None:
        test = load_mnist(args.data, train=False)
        check, labels = test.images, test.labels
        if args.int8:
            calibration = export.calibration_images(load_mnist(args.data, train=True).images)
    else:
        check = _random_inputs()
    report = export.export_model(
        model,
        out,
        args.format,
        int8=args.int8,
        calibration=calibration,
        check_images=check,
        check_labels=labels,
        name=args.model,
    )
    kind = f"{args.format}{' int8' if args.int8 else ''}"
    what = "the ONNX model " if args.format == "web" else ""
    print(
        f"wrote {out} ({kind}, {what}{report.file_bytes:,} bytes, "
        f"{report.weight_bytes:,} bytes of weights)"
    )
    c = report.check
    assert c is not None
    where = "MNIST test images" if labels is not None else "random inputs"
    line = f"checked on {c.images:,} {where}: predictions agree with PyTorch on {c.agreement:.2f}%"
    if c.accuracy_export is not None and c.accuracy_torch is not None:
        line += (
            f"; accuracy {c.accuracy_export:.2f}% (PyTorch fp32 {c.accuracy_torch:.2f}%, "
            f"{c.accuracy_export - c.accuracy_torch:+.2f} pp)"
        )
    print(line)
    return 0


def _random_inputs() -> Any:
    """Random normalized-looking images for checking an export when no MNIST is given."""
    import torch

    return torch.randn(1_000, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def _cmd_predict(args: argparse.Namespace) -> int:
    from mnistlite import models
    from mnistlite.predict import predict_readable
    from mnistlite.training import resolve_device

    device = resolve_device(args.device)
    model = models.get_model(args.model, weights=args.weights).eval().to(device)
    predictions, errors = predict_readable(model, args.images)
    for err in errors:
        print(f"mnistlite predict: error: {err}", file=sys.stderr)
    if args.json:
        print(json.dumps([p.to_dict() for p in predictions], indent=2))
    else:
        for p in predictions:
            print(f"{p.file}: {p.digit} ({100 * p.probability:.1f}%)")
    return 2 if errors else 0  # some pictures could not be read


def _cmd_serve(args: argparse.Namespace) -> int:
    from mnistlite import serve

    serve.run(args.model, weights=args.weights, host=args.host, port=args.port)
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from mnistlite import sweep

    sweep.require_optuna()
    if args.show:
        name = args.study_name
        if name is None and args.budget is not None:
            name = sweep.default_study_name(args.budget)
        print(sweep.best_trials_table(args.storage, name, top=args.top))
        if args.plot is not None:
            for path in sweep.plot_study(args.storage, name, args.plot):
                print(f"wrote {path}")
        return 0
    if args.plot is not None:
        raise MnistliteError("--plot DIR goes with --show (it draws a study, it trains nothing)")
    if args.budget is None:
        raise MnistliteError("--budget N is required (the largest allowed number of parameters)")
    study = sweep.run_sweep(
        budget=args.budget,
        trials=args.trials,
        epochs=args.epochs,
        root=args.data,
        storage=args.storage,
        study_name=args.study_name,
        limit_train=args.limit_train,
        val_size=args.val_size,
        seed=args.seed,
        device=args.device,
        download=args.download,
        progress=not args.no_progress,
        workers=args.workers,
        threads=args.threads,
        heartbeat_interval=args.heartbeat,
        grace_period=args.grace,
    )
    print(sweep.best_trials_table(args.storage, study.study_name, top=args.top))
    return 0
