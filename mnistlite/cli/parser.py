"""The ``mnistlite`` command's argument parser: every subcommand, its options and their help.

Each subcommand names its handler in :mod:`mnistlite.cli.commands`.
"""

from __future__ import annotations

import argparse
from typing import Any

from mnistlite.argtypes import decay_float, port_int, positive_float, positive_int, seed_int
from mnistlite.cli import commands as handlers

__all__ = ["SPEED_DEFAULTS", "build_parser"]


#: The command line's speed switches; the same defaults as the Python API's
#: (:class:`~mnistlite.training.Trainer`, :func:`mnistlite.runs.train`), chosen by
#: ``benchmarks/epoch_time.py`` (see ``benchmarks/RESULTS.md``): bf16 autocast where the
#: device computes bf16 natively ("auto"); channels_last on CUDA only, for networks without
#: depthwise convolutions ("auto": it was slower on two CPU threads and for depthwise
#: networks, faster in a CUDA graph otherwise); torch.compile was slower.
SPEED_DEFAULTS: dict[str, bool | str] = {
    "channels_last": "auto",
    "bf16": "auto",
    "compile": False,
    "cuda_graphs": "auto",
}


#: ``mnistlite.stacked.STACK_MODES``, spelled out so that ``--help`` needs no torch import.
STACK_MODES = ("auto", "grouped", "vmap", "loop")


DEVICE_HELP = "cpu, cuda, cuda:N, mps or auto: CUDA, then Apple's MPS, then the CPU (default: auto)"


def _add_speed_switches(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("speed switches (see benchmarks/RESULTS.md)")
    on_off = argparse.BooleanOptionalAction
    group.add_argument(
        "--channels-last",
        action=on_off,
        default=SPEED_DEFAULTS["channels_last"],
        help="channels_last memory format (default: auto, on for CUDA, where it measured "
        "faster, unless the network has depthwise convolutions; off on CPUs, where it "
        "measured slower)",
    )
    group.add_argument(
        "--compile",
        action=on_off,
        default=SPEED_DEFAULTS["compile"],
        help="run the model via torch.compile (default: %(default)s)",
    )
    group.add_argument(
        "--bf16",
        action=on_off,
        default=SPEED_DEFAULTS["bf16"],
        help="bfloat16 autocast for training; --no-bf16 for exact fp32 (default: auto, "
        "on for CPUs that compute bf16 natively (avx512_bf16 or AMX); off on CUDA, where fp32 "
        "measured faster for these networks); the test set is always evaluated in fp32",
    )
    group.add_argument(
        "--stack-mode",
        choices=STACK_MODES,
        default="auto",
        help="how the copies of a --seeds run go side by side: grouped (along the channels), "
        "vmap or loop (default: auto, grouped on CUDA; on CPUs grouped for networks with "
        "depthwise convolutions, else loop)",
    )
    group.add_argument(
        "--cuda-graphs",
        action=on_off,
        default=SPEED_DEFAULTS["cuda_graphs"],
        help="capture the training step once as a CUDA graph and replay it (default: auto, "
        "on for CUDA)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``mnistlite`` command."""
    parser = argparse.ArgumentParser(
        prog="mnistlite",
        description="Compact MNIST CNNs: train the notebooks' recipes, inspect models, evaluate.",
    )
    from mnistlite import __version__

    parser.add_argument("--version", action="version", version=f"mnistlite {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train_parser(commands)
    _add_model_parsers(commands)
    _add_deploy_parsers(commands)
    _add_sweep_parser(commands)
    _add_serve_parser(commands)
    return parser


def _add_train_parser(commands: Any) -> None:
    """The ``train`` subcommand (library: :func:`mnistlite.runs.train`)."""
    train = commands.add_parser(
        "train",
        help="train a recipe on MNIST",
        description="Train a recipe on MNIST. Writes history.json, checkpoint.pt "
        "(rewritten every epoch) and model.pt (the final state_dict) into --out.",
    )
    train.add_argument("recipe", metavar="RECIPE", help="recipe name (see `mnistlite list`)")
    train.add_argument("--epochs", type=positive_int, help="override the recipe's epochs")
    train.add_argument("--data", metavar="ROOT", default="data", help="MNIST root (default: data)")
    train.add_argument("--download", action="store_true", help="download MNIST if missing")
    train.add_argument(
        "--out", metavar="DIR", help="output folder, new or empty (default: runs/RECIPE)"
    )
    train.add_argument("--seed", type=seed_int, help="random seed (default: 1)")
    train.add_argument(
        "--seeds",
        type=seed_int,
        nargs="*",
        metavar="S",
        help="train one model per seed side by side in this process (e.g. --seeds 1 2 3); "
        "writes --out/seed-S/ for each",
    )
    train.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    train.add_argument("--device", default="auto", help=DEVICE_HELP)
    train.add_argument("--batch-size", type=positive_int, help="override the batch size")
    train.add_argument("--lr", type=positive_float, help="override the learning rate")
    train.add_argument(
        "--ema",
        type=decay_float,
        metavar="DECAY",
        help="evaluate and keep an exponential moving average of the weights with this "
        "decay in (0, 1), e.g. 0.999 (overrides the recipe's ema)",
    )
    train.add_argument(
        "--limit-train", type=positive_int, metavar="N", help="train on the first N images"
    )
    train.add_argument(
        "--val-split",
        type=positive_int,
        metavar="N",
        help="hold out N training images (seeded) as a validation set, logged as val_acc",
    )
    train.add_argument(
        "--plot", action="store_true", help="save history.png beside history.json (needs plots)"
    )
    train.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    _add_speed_switches(train)
    train.set_defaults(handler=handlers._cmd_train)


def _add_model_parsers(commands: Any) -> None:
    """The ``list``, ``summary`` and ``eval`` subcommands."""
    listing = commands.add_parser(
        "list", help="list models and recipes", description="List models and recipes."
    )
    listing.set_defaults(handler=handlers._cmd_list)
    summary = commands.add_parser(
        "summary",
        help="print a model's layer table",
        description="Print a model's per-layer table: output shapes, parameters, MACs, "
        "receptive fields.",
    )
    summary.add_argument("model", metavar="MODEL", help="model name (see `mnistlite list`)")
    summary.add_argument("--json", action="store_true", help="print JSON instead of a table")
    summary.set_defaults(handler=handlers._cmd_summary)
    evaluate = commands.add_parser(
        "eval",
        help="evaluate a model on the MNIST test set",
        description="Print loss and accuracy of a model on the 10,000 MNIST test images.",
    )
    evaluate.add_argument("model", metavar="MODEL", help="model name (see `mnistlite list`)")
    evaluate.add_argument("--data", metavar="ROOT", default="data", help="MNIST root")
    evaluate.add_argument("--download", action="store_true", help="download MNIST if missing")
    evaluate.add_argument(
        "--weights",
        default="DEFAULT",
        metavar="DEFAULT|NAME|PATH",
        help="bundled weights (DEFAULT or an enum member name) or a .pt file (default: DEFAULT)",
    )
    evaluate.add_argument("--device", default="auto", help=DEVICE_HELP)
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(handler=handlers._cmd_eval)


def _add_sweep_parser(commands: Any) -> None:
    """The ``sweep`` subcommand; it exists whether or not Optuna is installed."""
    from mnistlite.sweep import DEFAULT_STORAGE, INSTALL_HINT

    sweep = commands.add_parser(
        "sweep",
        help="search networks and recipes under a parameter budget (Optuna)",
        description="Search network widths, blocks and recipe settings under a parameter "
        "budget with Optuna. Over-budget networks are rejected before training; trials are "
        "scored on a validation split of the training images (never the test set) and "
        "stored in an Optuna storage that several processes can share. Needs the "
        f"'mnistlite[sweep]' extra ({INSTALL_HINT}).",
    )
    sweep.add_argument(
        "--budget", type=positive_int, metavar="N", help="the largest allowed parameter count"
    )
    sweep.add_argument(
        "--trials",
        type=positive_int,
        default=20,
        metavar="N",
        help="complete trials the study should hold, counted over all workers (default: 20)",
    )
    sweep.add_argument(
        "--epochs", type=positive_int, default=3, metavar="E", help="epochs per trial (default: 3)"
    )
    sweep.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        metavar="URL",
        help="sqlite:///FILE, journal:///FILE or a database URL such as "
        f"postgresql+psycopg2://USER:PASSWORD@HOST/DB (default: {DEFAULT_STORAGE})",
    )
    sweep.add_argument(
        "--study-name", metavar="NAME", help="study name (default: mnistlite-budgetN)"
    )
    sweep.add_argument("--data", metavar="ROOT", default="data", help="MNIST root (default: data)")
    sweep.add_argument("--download", action="store_true", help="download MNIST if missing")
    sweep.add_argument(
        "--limit-train", type=positive_int, metavar="N", help="train each trial on N images"
    )
    sweep.add_argument(
        "--val-size",
        type=positive_int,
        default=5000,
        metavar="N",
        help="validation images held out from the training set (default: 5000)",
    )
    sweep.add_argument(
        "--seed", type=seed_int, default=0, help="seed of the split and of training (default: 0)"
    )
    sweep.add_argument("--device", default="auto", help=DEVICE_HELP)
    _add_sweep_worker_options(sweep)
    sweep.set_defaults(handler=handlers._cmd_sweep)


def _add_sweep_worker_options(sweep: argparse.ArgumentParser) -> None:
    """The sweep's options on workers, heartbeats and what ``--show`` lists."""
    sweep.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="local worker processes to start on the study (default: 1, this process)",
    )
    sweep.add_argument(
        "--threads",
        type=positive_int,
        metavar="T",
        help="torch threads per worker (default: the cores divided among the workers)",
    )
    sweep.add_argument(
        "--heartbeat",
        type=positive_int,
        default=30,
        metavar="S",
        help="seconds between a running trial's heartbeats (default: 30)",
    )
    sweep.add_argument(
        "--grace",
        type=positive_int,
        default=120,
        metavar="S",
        help="seconds without a heartbeat before a trial is failed and queued again (default: 120)",
    )
    sweep.add_argument("--show", action="store_true", help="list the best trials and exit")
    sweep.add_argument(
        "--plot",
        metavar="DIR",
        help="with --show: also write the study's plots (history.png, parameters.png) to DIR",
    )
    sweep.add_argument(
        "--top", type=positive_int, default=10, metavar="K", help="trials listed (default: 10)"
    )
    sweep.add_argument(
        "--no-progress", action="store_true", help="hide the per-trial lines and progress bars"
    )


def _add_deploy_parsers(commands: Any) -> None:
    """The ``export`` and ``predict`` subcommands (library: mnistlite.export, .predict)."""
    weights_help = "bundled weights (DEFAULT or a member name) or a .pt file (default: DEFAULT)"
    export = commands.add_parser(
        "export",
        help="export a model to ONNX, torch.export, ExecuTorch or a static web page",
        description="Export a model: ONNX through the dynamo exporter (dynamic batch, "
        "normalized (N, 1, 28, 28) input, logits out; ONNX needs the 'mnistlite[export]' "
        "extra), a torch.export program (.pt2), an ExecuTorch program (.pte, one image per "
        "call, XNNPACK; needs the 'mnistlite[edge]' extra) or a static web folder that runs "
        "the ONNX model in the browser with onnxruntime-web (--out is a new or empty "
        "folder). --int8 quantizes (onnx, pte, web), calibrated on training images. The "
        "written model is checked against PyTorch: on the MNIST test set with --data, else "
        "on random inputs.",
    )
    export.add_argument("model", metavar="MODEL", help="model name (see `mnistlite list`)")
    export.add_argument("--weights", default="DEFAULT", metavar="PATH", help=weights_help)
    export.add_argument("--format", required=True, metavar="FORMAT", help="onnx, pt2, pte or web")
    export.add_argument(
        "--int8",
        action="store_true",
        help="8-bit weights and activations (onnx, pte, web; needs --data)",
    )
    export.add_argument(
        "--data", metavar="ROOT", help="MNIST root: training images calibrate, test images check"
    )
    export.add_argument(
        "--out", required=True, metavar="FILE", help="the file to write (web: the folder)"
    )
    export.set_defaults(handler=handlers._cmd_export)

    predict = commands.add_parser(
        "predict",
        help="classify your own pictures of digits",
        description="Classify pictures of handwritten digits (PNG, JPEG, any size, dark on "
        "light or light on dark), preprocessed as MNIST was made. Exit status 2 if any "
        "picture could not be read; the others are still reported.",
    )
    predict.add_argument("model", metavar="MODEL", help="model name (see `mnistlite list`)")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="picture files")
    predict.add_argument("--weights", default="DEFAULT", metavar="PATH", help=weights_help)
    predict.add_argument("--json", action="store_true", help="print one JSON document")
    predict.add_argument("--device", default="auto", help=DEVICE_HELP)
    predict.set_defaults(handler=handlers._cmd_predict)


def _add_serve_parser(commands: Any) -> None:
    """The ``serve`` subcommand (library: mnistlite.serve); it exists without the extra."""
    serve = commands.add_parser(
        "serve",
        help="a web page to draw digits on, and a prediction API",
        description="Serve a page to draw a digit on (mouse, finger or stylus) and see the "
        "prediction, and an HTTP API: POST /api/predict, GET /api/models, GET /api/health, "
        "docs at /docs. Listens on 127.0.0.1 unless --host says otherwise. Ctrl-C stops "
        "it. Needs the 'mnistlite[serve]' extra (pip install \"mnistlite[serve]\").",
    )
    serve.add_argument(
        "model", nargs="?", metavar="MODEL", help="the model the page starts with (default: step7)"
    )
    serve.add_argument(
        "--weights",
        metavar="PATH",
        help="serve only MODEL, with this .pt file (a state_dict or a training checkpoint)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=port_int, default=8000, help="port; 0 picks a free one (default: 8000)"
    )
    serve.set_defaults(handler=handlers._cmd_serve)
