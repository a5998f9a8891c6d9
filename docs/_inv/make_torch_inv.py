"""Write the small offline intersphinx inventories for PyTorch, torchvision, matplotlib.

CI has no network, so ``docs/conf.py`` reads ``torch.inv``, ``torchvision.inv`` and
``matplotlib.inv`` from ``docs/_inv`` before trying the real inventories online. They
hold only the names the mnistlite docs link to, each pointing at its page in the
official documentation. Autodoc renders type hints by their defining module
(``torch.nn.modules.module.Module`` for ``torch.nn.Module``), so those spellings are
listed too, as aliases of the public page.

Run after adding a name (the format is Sphinx's objects.inv version 2)::

    python docs/_inv/make_torch_inv.py

The output is deterministic, so an unchanged list rewrites identical files.
"""

from __future__ import annotations

import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, domain:role, URI relative to the project's base URL); "$" stands for the name.
TORCH: list[tuple[str, str, str]] = [
    # modules
    ("torch", "py:module", "torch.html#module-$"),
    ("torch.nn", "py:module", "nn.html#module-$"),
    ("torch.nn.functional", "py:module", "nn.functional.html#module-$"),
    ("torch.optim", "py:module", "optim.html#module-$"),
    ("torch.optim.lr_scheduler", "py:module", "optim.html#module-$"),
    ("torch.utils.flop_counter", "py:module", "utils.html#module-$"),
    ("torch.utils.data", "py:module", "data.html#module-$"),
    # tensors and their attributes
    ("torch.Tensor", "py:class", "tensors.html#$"),
    ("torch.Size", "py:class", "size.html#$"),
    ("torch.Generator", "py:class", "generated/$.html#$"),
    ("torch.device", "py:class", "tensor_attributes.html#$"),
    ("torch.dtype", "py:class", "tensor_attributes.html#$"),
    ("torch.memory_format", "py:class", "tensor_attributes.html#$"),
    ("torch.channels_last", "py:data", "tensor_attributes.html#torch.memory_format"),
    ("torch.float32", "py:data", "tensor_attributes.html#torch.dtype"),
    ("torch.bfloat16", "py:data", "tensor_attributes.html#torch.dtype"),
    ("torch.uint8", "py:data", "tensor_attributes.html#torch.dtype"),
    # functions
    ("torch.compile", "py:function", "generated/$.html#$"),
    ("torch.save", "py:function", "generated/$.html#$"),
    ("torch.load", "py:function", "generated/$.html#$"),
    ("torch.manual_seed", "py:function", "generated/$.html#$"),
    ("torch.no_grad", "py:function", "generated/$.html#$"),
    ("torch.inference_mode", "py:function", "generated/$.html#$"),
    ("torch.autocast", "py:class", "amp.html#$"),
    ("torch.nn.functional.grid_sample", "py:function", "generated/$.html#$"),
    ("torch.nn.functional.affine_grid", "py:function", "generated/$.html#$"),
    ("torch.nn.functional.cross_entropy", "py:function", "generated/$.html#$"),
    # nn
    ("torch.nn.Module", "py:class", "generated/$.html#$"),
    ("torch.nn.Module.state_dict", "py:method", "generated/torch.nn.Module.html#$"),
    ("torch.nn.Module.load_state_dict", "py:method", "generated/torch.nn.Module.html#$"),
    ("torch.nn.Module.eval", "py:method", "generated/torch.nn.Module.html#$"),
    ("torch.nn.Sequential", "py:class", "generated/$.html#$"),
    ("torch.nn.Conv2d", "py:class", "generated/$.html#$"),
    ("torch.nn.Linear", "py:class", "generated/$.html#$"),
    ("torch.nn.BatchNorm2d", "py:class", "generated/$.html#$"),
    ("torch.nn.Dropout", "py:class", "generated/$.html#$"),
    ("torch.nn.ReLU", "py:class", "generated/$.html#$"),
    ("torch.nn.MaxPool2d", "py:class", "generated/$.html#$"),
    ("torch.nn.AdaptiveAvgPool2d", "py:class", "generated/$.html#$"),
    ("torch.nn.Flatten", "py:class", "generated/$.html#$"),
    # optim
    ("torch.optim.Optimizer", "py:class", "optim.html#$"),
    ("torch.optim.SGD", "py:class", "generated/$.html#$"),
    ("torch.optim.lr_scheduler.LRScheduler", "py:class", "generated/$.html#$"),
    ("torch.optim.lr_scheduler.StepLR", "py:class", "generated/$.html#$"),
    ("torch.optim.lr_scheduler.OneCycleLR", "py:class", "generated/$.html#$"),
    # data
    ("torch.utils.data.DataLoader", "py:class", "data.html#$"),
    ("torch.utils.data.Dataset", "py:class", "data.html#$"),
]

# Where autodoc finds these classes (their __module__), pointing at the public page.
TORCH_ALIASES: dict[str, str] = {
    "torch.nn.modules.module.Module": "torch.nn.Module",
    "torch.nn.modules.container.Sequential": "torch.nn.Sequential",
    "torch.nn.modules.conv.Conv2d": "torch.nn.Conv2d",
    "torch.optim.optimizer.Optimizer": "torch.optim.Optimizer",
    "torch.optim.sgd.SGD": "torch.optim.SGD",
    "torch._C.Generator": "torch.Generator",
}

TORCHVISION: list[tuple[str, str, str]] = [
    ("torchvision.datasets", "py:module", "datasets.html#module-$"),
    ("torchvision.datasets.MNIST", "py:class", "generated/$.html#$"),
    ("torchvision.transforms", "py:module", "transforms.html#module-$"),
    ("torchvision.models", "py:module", "models.html#module-$"),
]

MATPLOTLIB: list[tuple[str, str, str]] = [
    ("matplotlib", "py:module", "index.html#module-$"),
    ("matplotlib.pyplot", "py:module", "api/pyplot_summary.html#module-$"),
    ("matplotlib.figure", "py:module", "api/figure_api.html#module-$"),
    ("matplotlib.figure.Figure", "py:class", "api/_as_gen/$.html#$"),
    ("matplotlib.axes", "py:module", "api/axes_api.html#module-$"),
    ("matplotlib.axes.Axes", "py:class", "api/_as_gen/$.html#$"),
]


def _expand(entries: list[tuple[str, str, str]], aliases: dict[str, str]) -> list[str]:
    """Turn entries (and aliases of them) into sorted objects.inv lines."""
    by_name = {name: (role, uri.replace("$", name)) for name, role, uri in entries}
    rows = [(name, role, uri) for name, (role, uri) in by_name.items()]
    rows += [(alias, *by_name[target]) for alias, target in aliases.items()]
    # objects.inv line: name domain:role priority uri display-name ("-": the name)
    return [f"{name} {role} 1 {uri} -" for name, role, uri in sorted(rows)]


def write_inventory(path: Path, project: str, version: str, lines: list[str]) -> None:
    """Write an objects.inv (version 2) file with the given object lines."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = zlib.compress(("\n".join(lines) + "\n").encode(), 9)
    path.write_bytes(header.encode() + body)


def main() -> None:
    """Write torch.inv, torchvision.inv and matplotlib.inv beside this script."""
    write_inventory(HERE / "torch.inv", "PyTorch", "stable", _expand(TORCH, TORCH_ALIASES))
    write_inventory(HERE / "torchvision.inv", "torchvision", "stable", _expand(TORCHVISION, {}))
    write_inventory(HERE / "matplotlib.inv", "Matplotlib", "stable", _expand(MATPLOTLIB, {}))
    print(f"wrote torch.inv, torchvision.inv and matplotlib.inv in {HERE}")


if __name__ == "__main__":
    main()
