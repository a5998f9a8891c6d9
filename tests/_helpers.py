"""Test helpers shared by several test modules."""

import contextlib
import io

import torch

from mnistlite import cli, data


def fake(n: int = 96, seed: int = 0) -> data.MNISTTensors:
    """``n`` learnable fake digits: each class lights up its own band of rows."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.randn(n, 1, 28, 28, generator=g) * 0.1
    for i, label in enumerate(labels):
        images[i, 0, 2 * label : 2 * label + 3, :] += 3.0
    return data.MNISTTensors(images, labels)


def run_cli(*args: object) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()
