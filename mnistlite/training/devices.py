"""The device and precision policy: which device, whether bf16 autocast, which memory format.

Each ``"auto"`` choice here was made by measurement (``benchmarks/epoch_time.py``,
``benchmarks/gpu_speed.py``; ``benchmarks/RESULTS.md``). :func:`describe` says in one line
what was chosen and why, for a command line to print.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from mnistlite.blocks import has_grouped_conv
from mnistlite.errors import MnistliteError

__all__ = [
    "auto_device",
    "bf16_native",
    "cpu_bf16_flags",
    "describe",
    "resolve_bf16",
    "resolve_channels_last",
    "resolve_cuda_graphs",
    "resolve_device",
]


def auto_device() -> torch.device:
    """The best device here: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` into a usable device.

    ``"auto"`` (and None) is :func:`auto_device`: CUDA, then MPS, then the CPU.

    Raises:
        MnistliteError: For an unknown device string, or a device that is not available.
    """
    if device is None or device == "auto":
        return auto_device()
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise MnistliteError(
            f"unknown device {device!r} (expected cpu, cuda, cuda:N, mps or auto): {err}"
        ) from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise MnistliteError(
            f"unknown device {str(device)!r} (expected cpu, cuda, cuda:N, mps or auto)"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MnistliteError(f"device {device} requested but CUDA is not available")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise MnistliteError(f"device {device} requested but only {torch.cuda.device_count()} GPUs")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise MnistliteError(f"device {device} requested but Apple's MPS is not available")
    return device


#: The CPU flags that mean native bfloat16 arithmetic (AVX-512 BF16, Intel AMX).
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_bf16_flags() -> frozenset[str]:
    """The native-bf16 flags this CPU reports: a subset of ``{"avx512_bf16", "amx_bf16"}``.

    Read from ``/proc/cpuinfo`` (Linux) and from
    ``torch.backends.cpu.get_cpu_capability()`` (which names AMX on builds that
    dispatch to it). Empty where neither says anything, e.g. on macOS or Windows.
    """
    found: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    found.update(line.split(":", 1)[-1].split())
                    break
    except OSError:
        pass
    try:
        capability = torch.backends.cpu.get_cpu_capability().lower()
    except (AttributeError, RuntimeError):
        capability = ""
    if "amx" in capability:
        found.add("amx_bf16")
    if "bf16" in capability:
        found.add("avx512_bf16")
    return frozenset(found) & frozenset(NATIVE_BF16_CPU_FLAGS)


def bf16_native(device: str | torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively, so bf16 autocast pays.

    On the CPU: AVX-512 BF16 or AMX (:func:`cpu_bf16_flags`); without them bf16 is
    emulated and slower than fp32. On CUDA: ``torch.cuda.is_bf16_supported()``
    (Ampere and later). Anything else: False.
    """
    device = torch.device(device)
    if device.type == "cpu":
        return bool(cpu_bf16_flags())
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return False


#: What ``bf16="auto"`` chooses on CUDA: fp32 (TF32 off). For these networks bf16 autocast
#: only adds cast kernels; measured by ``benchmarks/gpu_speed.py`` (benchmarks/RESULTS.md).
BF16_AUTO_CUDA = False


#: What ``channels_last="auto"`` chooses on CUDA for a network without grouped
#: (depthwise) convolutions: on. A step-7 or fast training step in a CUDA graph measured
#: faster in channels_last, while lite1k, whose convolutions are mostly
#: depthwise, trained markedly slower; on two CPU threads it was slower
#: (``benchmarks/gpu_speed.py``, ``benchmarks/epoch_time.py``; benchmarks/RESULTS.md).
CHANNELS_LAST_AUTO_CUDA = True


def resolve_channels_last(
    channels_last: bool | str, device: str | torch.device, model: nn.Module | None = None
) -> bool:
    """Turn ``True``, ``False`` or ``"auto"`` into a memory-format choice for ``device``.

    ``"auto"``: on CUDA, ``CHANNELS_LAST_AUTO_CUDA`` (on, decided by measurement) unless
    ``model`` has grouped (depthwise) convolutions; off elsewhere.

    Raises:
        MnistliteError: For anything else.
    """
    if isinstance(channels_last, bool):
        return channels_last
    if channels_last == "auto":
        if torch.device(device).type != "cuda":
            return False
        return CHANNELS_LAST_AUTO_CUDA and not (model is not None and has_grouped_conv(model))
    raise MnistliteError(f"channels_last must be True, False or 'auto', got {channels_last!r}")


def resolve_bf16(bf16: bool | str, device: str | torch.device) -> bool:
    """Turn ``True``, ``False`` or ``"auto"`` into a bf16 choice for ``device``.

    ``"auto"``: on a CPU that computes bf16 natively (:func:`bf16_native`); on CUDA
    ``BF16_AUTO_CUDA`` (fp32, decided by measurement); elsewhere off.

    Raises:
        MnistliteError: For anything else.
    """
    if isinstance(bf16, bool):
        return bf16
    if bf16 == "auto":
        if torch.device(device).type == "cuda":
            return BF16_AUTO_CUDA and bf16_native(device)
        return bf16_native(device)
    raise MnistliteError(f"bf16 must be True, False or 'auto', got {bf16!r}")


def describe(device: str | torch.device | None, bf16: bool | str = "auto") -> str:
    """One line saying where a run trains and in which precision, and why.

    Args:
        device: What was asked for (``"auto"``, ``"cpu"``, ``"cuda:1"``...).
        bf16: What was asked for: ``True``, ``False`` or ``"auto"``.

    Returns:
        E.g. ``"device: cpu (auto: CUDA, then MPS, then the CPU); precision: bf16 autocast
        (auto; bf16 is native on cpu); test set evaluated in fp32"``.
    """
    chosen = resolve_device(device)
    how = "auto: CUDA, then MPS, then the CPU" if device in (None, "auto") else "asked for"
    use_bf16 = resolve_bf16(bf16, chosen)
    why = "forced" if isinstance(bf16, bool) else "auto"
    native = "native" if bf16_native(chosen) else "not native"
    return (
        f"device: {chosen} ({how}); precision: {'bf16 autocast' if use_bf16 else 'fp32'} "
        f"({why}; bf16 is {native} on {chosen}); test set evaluated in fp32"
    )


def resolve_cuda_graphs(
    cuda_graphs: bool | str, device: torch.device, plain_sgd: bool, compile: bool
) -> bool:
    """Turn ``True``, ``False`` or ``"auto"`` into a CUDA-graph choice.

    ``"auto"``: on for CUDA with a plain SGD optimizer and without ``torch.compile``.

    Raises:
        MnistliteError: For anything else, or ``True`` where a graph cannot be captured.
    """
    if cuda_graphs not in (True, False, "auto"):
        raise MnistliteError(f"cuda_graphs must be True, False or 'auto', got {cuda_graphs!r}")
    supported = device.type == "cuda" and plain_sgd and not compile
    if cuda_graphs == "auto":
        return supported
    if cuda_graphs and not supported:
        raise MnistliteError(
            "cuda_graphs=True needs a CUDA device, a torch.optim.SGD optimizer and "
            f"compile=False (got device {device}, plain SGD {plain_sgd}, compile={compile})"
        )
    return bool(cuda_graphs)
