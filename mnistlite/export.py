"""Ship a model: ONNX (fp32 or int8) and ``torch.export`` programs.

Every format takes one input, ``(N, 1, 28, 28)`` float32 images normalized as the
training set (:class:`~mnistlite.preprocess.Normalize`), any batch size ``N``, and returns
``(N, 10)`` logits.

- ``onnx``: ``torch.onnx.export`` through the current (``dynamo=True``) exporter.
  :func:`export_model` checks the written file: ONNX Runtime must give the same
  predictions as PyTorch on the images it is given (the real test set from the CLI).
- ``onnx`` with ``int8=True``: static post-training quantization by ONNX Runtime (QDQ
  format, int8 weights per output channel, uint8 activations), calibrated on training
  images only.
- ``pt2``: a ``torch.export.export`` program saved with ``torch.export.save``;
  load it with :func:`load_pt2`.
- ``pte``: an ExecuTorch program lowered with XNNPACK, fp32 or int8 (PT2E), for phones
  and microcontrollers: :mod:`mnistlite.export_pte`.
- ``web``: a static folder (a draw-a-digit page, the ONNX model, the preprocessing in
  JavaScript) that runs the model in the browser with onnxruntime-web:
  :mod:`mnistlite.export_web`.

**BatchNorm folding.** The ONNX and ExecuTorch exports first fold each BatchNorm into the
convolution after it where that is exact (:mod:`mnistlite.export_fold` says when); the
``pt2`` program is the unchanged eval-mode model.

Needs the optional extra ``mnistlite[export]`` (onnx, onnxscript, onnxruntime) for ONNX;
``pt2`` needs only PyTorch; ``pte`` needs ``mnistlite[edge]`` (executorch).
"""

from __future__ import annotations

import copy
import io
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from mnistlite.atomic import atomic_write
from mnistlite.errors import ExportError, MissingExtraError, MnistliteError
from mnistlite.export_check import (  # noqa: F401  (siblings use the private ones)
    LOGIT_TOLERANCE,
    ExportCheck,
    _check_images,
    _compare,
    _require_equal,
    _torch_logits,
)
from mnistlite.export_fold import fold_batchnorm

__all__ = [
    "CALIBRATION_IMAGES",
    "FORMATS",
    "INT8_FORMATS",
    "INSTALL_HINT",
    "ExportCheck",
    "ExportError",
    "ExportReport",
    "calibration_images",
    "check_onnx",
    "check_pt2",
    "export_model",
    "export_onnx",
    "export_pt2",
    "fold_batchnorm",
    "load_pt2",
    "onnx_latency",
    "onnx_session",
    "onnx_weight_bytes",
    "quantize_onnx",
    "require_onnx",
    "run_onnx",
    "slim_onnx",
]

#: The export formats (ONNX, ``torch.export`` programs, ExecuTorch programs, a web page).
FORMATS = ("onnx", "pt2", "pte", "web")
#: The formats that can be quantized to int8.
INT8_FORMATS = ("onnx", "pte", "web")
#: The command that installs what the ONNX formats need.
INSTALL_HINT = 'pip install "mnistlite[export]"'
#: Training images used to calibrate int8 activations (a fixed random draw).
CALIBRATION_IMAGES = 2_000
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def require_onnx() -> tuple[ModuleType, ModuleType]:
    """Import onnx and onnxruntime, or fail with a message naming the extra.

    Returns:
        The ``onnx`` and ``onnxruntime`` modules.

    Raises:
        MissingExtraError: If onnx, onnxscript or onnxruntime is missing (it is an
            ImportError); the message says ``pip install "mnistlite[export]"``.
    """
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401  (torch.onnx's dynamo exporter needs it)
    except ImportError as err:
        raise MissingExtraError(
            f"ONNX export needs the 'mnistlite[export]' extra (onnx, onnxscript, "
            f"onnxruntime); {err.name or 'a package'} is not installed: {INSTALL_HINT}"
        ) from err
    return onnx, onnxruntime


# -- BatchNorm folding ------------------------------------------------------------------


def _example_input() -> torch.Tensor:
    return torch.zeros(2, 1, 28, 28)  # batch 2: batch size 1 would be specialized


def _onnx_bytes(model: nn.Module) -> bytes:
    """The serialized ONNX model, without the exporter's per-node debug metadata."""
    require_onnx()
    batch = torch.export.Dim("batch")
    with torch.no_grad():
        program = torch.onnx.export(
            model,
            (_example_input(),),
            dynamo=True,
            dynamic_shapes=({0: batch},),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            verbose=False,
        )
    return slim_onnx(program.model_proto.SerializeToString())


def slim_onnx(data: bytes) -> bytes:
    """Drop what ONNX Runtime does not need from a serialized model; same computation.

    For the smallest networks the bytes of an ONNX file are mostly graph, not weights:
    the exporter's per-node metadata (source locations, stack traces), the shapes of every
    intermediate tensor (``value_info``, inferred again when the model is loaded), long
    node and tensor names, and opset imports of domains no node uses (the quantizer adds
    eight). This removes all of them, renaming intermediate tensors and initializers
    ``t0``, ``t1``, ...; the graph's input and output names are kept.

    Args:
        data: A serialized ONNX model.

    Returns:
        The smaller serialized model.
    """
    onnx, _ = require_onnx()
    proto = onnx.load_from_string(data)
    graph = proto.graph
    del graph.value_info[:]
    del proto.metadata_props[:]
    proto.doc_string = graph.doc_string = ""
    keep = {v.name for v in [*graph.input, *graph.output]}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for init in graph.initializer:
        init.name = short(init.name)
        init.doc_string = ""
    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = node.name = ""
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]
    used = {node.domain for node in graph.node} | {""}
    opsets = [o for o in proto.opset_import if o.domain in used]
    del proto.opset_import[:]
    proto.opset_import.extend(opsets)
    return proto.SerializeToString()


def export_onnx(model: nn.Module, out: str | Path, *, fold: bool = True) -> Path:
    """Write ``model`` as an fp32 ONNX file (dynamic batch), atomically.

    Args:
        model: Takes ``(N, 1, 28, 28)`` normalized images, returns ``(N, 10)`` logits.
        out: The ``.onnx`` file to write; its folder must exist.
        fold: Fold BatchNorms into the next convolution first (:func:`fold_batchnorm`).

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        ImportError: Without the ``mnistlite[export]`` extra.
    """
    model = fold_batchnorm(model) if fold else copy.deepcopy(model).eval()
    data = _onnx_bytes(model)
    return atomic_write(out, lambda handle: handle.write(data))


def calibration_images(
    train_images: torch.Tensor, n: int = CALIBRATION_IMAGES, seed: int = 0
) -> torch.Tensor:
    """A fixed random draw of ``n`` training images for int8 calibration.

    Args:
        train_images: Normalized *training* images ``(N, 1, 28, 28)`` (never test images).
        n: How many to draw (all of them if there are fewer).
        seed: Seed of the draw.
    """
    _check_images(train_images, None)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(train_images), generator=generator)[:n]
    return train_images[order.to(train_images.device)].cpu()


class _Calibration:
    """ONNX Runtime's calibration reader over a tensor of images, in batches."""

    def __init__(self, images: torch.Tensor, batch_size: int = 500) -> None:
        self._batches: Iterator[torch.Tensor] = iter(images.split(batch_size))

    def get_next(self) -> dict[str, Any] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch.float().cpu().numpy()}

    def rewind(self) -> None:  # pragma: no cover - calibration reads the images once
        raise NotImplementedError


def _named_nodes(data: bytes) -> bytes:
    """Give every node a unique name (the quantizer tells nodes apart by name)."""
    onnx, _ = require_onnx()
    proto = onnx.load_from_string(data)
    for i, node in enumerate(proto.graph.node):
        node.name = f"{node.op_type}_{i}"
    return proto.SerializeToString()


def quantize_onnx(source: str | Path | bytes, out: str | Path, calibration: torch.Tensor) -> Path:
    """Quantize an fp32 ONNX model to int8 (static, QDQ), writing ``out`` atomically.

    Weights become int8 per output channel; activations uint8, each tensor's range
    covering 99.999% of the values seen on ``calibration`` (ONNX Runtime's percentile
    calibration): plain minimum-maximum ranges made the accuracy of the smallest
    networks depend on which calibration images were drawn.

    Args:
        source: An fp32 ``.onnx`` file written by :func:`export_onnx`, or its bytes.
        out: The int8 ``.onnx`` file to write.
        calibration: Normalized *training* images ``(N, 1, 28, 28)``, never test images.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.
    """
    require_onnx()
    _check_images(calibration, None)
    fp32_model = _named_nodes(source if isinstance(source, bytes) else Path(source).read_bytes())
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(_Calibration, CalibrationDataReader):
        pass

    with tempfile.TemporaryDirectory(prefix="mnistlite-int8-") as tmp:
        raw, prepared, quantized = (Path(tmp) / n for n in ("raw.onnx", "pre.onnx", "q.onnx"))
        raw.write_bytes(fp32_model)
        quant_pre_process(str(raw), str(prepared), skip_symbolic_shape=True)
        onnx, _ = require_onnx()
        kept_float = [  # BatchNorms that could not be folded run in float between QDQ pairs
            node.name
            for node in onnx.load(str(prepared)).graph.node
            if node.op_type == "BatchNormalization"
        ]
        quantize_static(
            str(prepared),
            str(quantized),
            Reader(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,
            nodes_to_exclude=kept_float,
        )
        data = slim_onnx(quantized.read_bytes())
    return atomic_write(out, lambda handle: handle.write(data))


def export_pt2(model: nn.Module, out: str | Path) -> Path:
    """Write ``model`` as a ``torch.export.export`` program (dynamic batch), atomically.

    Args:
        model: Takes ``(N, 1, 28, 28)`` normalized images, returns ``(N, 10)`` logits.
        out: The ``.pt2`` file to write; its folder must exist.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.
    """
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        program = torch.export.export(
            model, (_example_input(),), dynamic_shapes=({0: torch.export.Dim("batch")},)
        )
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return atomic_write(out, lambda handle: handle.write(buffer.getvalue()))


def load_pt2(path: str | Path) -> nn.Module:
    """Load a ``.pt2`` file written by :func:`export_pt2`; returns a callable module.

    Raises:
        ExportError: If the file is missing or is not a saved ``torch.export`` program.
    """
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"no exported program at {path}")
    try:
        return torch.export.load(path).module()
    except Exception as err:  # torch raises several types for a bad archive
        raise ExportError(
            f"cannot load {path} as a torch.export program ({type(err).__name__})"
        ) from None


# -- running and checking -----------------------------------------------------------------


def onnx_session(path: str | Path, *, threads: int | None = None) -> Any:
    """Open an ONNX file in ONNX Runtime on the CPU.

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads (default: ONNX Runtime's choice).

    Raises:
        ImportError: Without the ``mnistlite[export]`` extra.
        ExportError: If the file is missing or not a valid ONNX model.
    """
    _, ort = require_onnx()
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"no ONNX file at {path}")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        raise ExportError(f"ONNX Runtime cannot load {path}: {err}") from None


def run_onnx(session: Any, images: torch.Tensor, batch_size: int = 1_000) -> torch.Tensor:
    """Logits of an ONNX Runtime session on ``(N, 1, 28, 28)`` normalized images."""
    if isinstance(session, (str, Path)):
        session = onnx_session(session)
    outs = [
        torch.from_numpy(session.run(None, {INPUT_NAME: batch.float().cpu().numpy()})[0])
        for batch in images.split(batch_size)
    ]
    return torch.cat(outs)


def check_onnx(
    path: str | Path,
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
) -> ExportCheck:
    """Compare an ONNX file with ``model`` on ``images`` (normalized, ``(N, 1, 28, 28)``)."""
    _check_images(images, labels)
    return _compare(_torch_logits(model.eval(), images), run_onnx(path, images), labels)


def check_pt2(
    path: str | Path,
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
) -> ExportCheck:
    """Compare a ``.pt2`` file with ``model`` on ``images`` (normalized, ``(N, 1, 28, 28)``)."""
    _check_images(images, labels)
    loaded = load_pt2(path)
    return _compare(_torch_logits(model.eval(), images), _torch_logits(loaded, images), labels)


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_model` wrote and how it checked.

    Attributes:
        path: The file written (for ``web``: the folder).
        format: ``"onnx"``, ``"pt2"``, ``"pte"`` or ``"web"``.
        int8: Whether the weights are 8-bit (ONNX QDQ, or PT2E for ``pte``).
        file_bytes: Size of the file (for ``web``: of the ONNX model in the folder).
        weight_bytes: Bytes of the stored weights (ONNX initializers; for ``pt2`` the
            state dict's tensors).
        check: The comparison with PyTorch, or None if no images were given.
    """

    path: Path
    format: str
    int8: bool
    file_bytes: int
    weight_bytes: int
    check: ExportCheck | None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def onnx_weight_bytes(path: str | Path) -> int:
    """Bytes of all initializers (weights, biases, scales, zero points) in an ONNX file."""
    onnx, _ = require_onnx()
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return sum(numpy_helper.to_array(init).nbytes for init in model.graph.initializer)


def _validate(
    out: Path,
    format: str,
    int8: bool,
    calibration: torch.Tensor | None,
    check_images: torch.Tensor | None,
    check_labels: torch.Tensor | None,
) -> None:
    """Refuse a request :func:`export_model` cannot carry out, before anything is written."""
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; expected one of {', '.join(FORMATS)}")
    if not out.parent.is_dir():
        raise ExportError(f"cannot write {out}: folder {out.parent} does not exist")
    if int8 and format not in INT8_FORMATS:
        raise ExportError(
            f"int8 export is made for formats {', '.join(INT8_FORMATS)}, not {format!r}"
        )
    if int8:
        if calibration is None or not isinstance(calibration, torch.Tensor):
            raise ExportError("int8 export needs calibration images (normalized training images)")
        _check_images(calibration, None)
    if check_images is not None:
        _check_images(check_images, check_labels)


def _write(
    model: nn.Module, out: Path, format: str, int8: bool, calibration: torch.Tensor | None
) -> int:
    """Write ``out`` in ``format``; return the bytes of the weights it stores."""
    if format == "pt2":
        export_pt2(model, out)
        return sum(t.nbytes for t in model.state_dict().values())
    if format == "pte":
        from mnistlite import export_pte

        return export_pte.export_pte(model, out, int8=int8, calibration=calibration)[1]
    require_onnx()
    if int8:
        assert calibration is not None
        quantize_onnx(_onnx_bytes(fold_batchnorm(model)), out, calibration)
    else:
        export_onnx(model, out)
    return onnx_weight_bytes(out)


def _check(
    out: Path, format: str, model: nn.Module, images: torch.Tensor, labels: torch.Tensor | None
) -> ExportCheck:
    if format == "pte":
        from mnistlite.export_pte import check_pte

        return check_pte(out, model, images, labels)
    checker = check_pt2 if format == "pt2" else check_onnx
    return checker(out, model, images, labels)


def export_model(
    model: nn.Module,
    out: str | Path,
    format: str = "onnx",
    *,
    int8: bool = False,
    calibration: torch.Tensor | None = None,
    check_images: torch.Tensor | None = None,
    check_labels: torch.Tensor | None = None,
    name: str | None = None,
) -> ExportReport:
    """Export ``model``, write ``out`` atomically, and check the file against PyTorch.

    Args:
        model: Takes ``(N, 1, 28, 28)`` normalized images, returns ``(N, 10)`` logits.
        out: The file to write, its folder must exist; for ``"web"`` the folder to
            create (absent or empty), see :func:`mnistlite.export_web.export_web`.
        format: ``"onnx"``, ``"pt2"``, ``"pte"`` (ExecuTorch, :mod:`mnistlite.export_pte`)
            or ``"web"`` (a static page running the ONNX model in the browser).
        int8: Quantize to 8 bits (``onnx``, ``pte`` and ``web``), calibrating on
            ``calibration``.
        calibration: Normalized *training* images for int8 calibration (never test
            images); :data:`CALIBRATION_IMAGES` of them are plenty.
        check_images: Normalized images to compare the file with PyTorch on (the CLI
            passes the whole test set). For fp32 the predictions must agree on all of
            them; for int8 the comparison is reported, not enforced.
        check_labels: The images' digits, to report both accuracies.
        name: How the ``web`` page names the model (default: its class name).

    Returns:
        What was written and how it compared.

    Raises:
        ExportError: For an unknown format, ``int8`` with ``pt2`` or without calibration,
            a model that cannot be lowered, a web folder that is not empty, or an fp32
            file whose predictions differ from PyTorch's (the file is removed then).
        MissingExtraError: Without the extra a format needs (an ImportError).
    """
    out = Path(out)
    _validate(out, format, int8, calibration, check_images, check_labels)
    model = copy.deepcopy(model).eval()
    if format == "web":
        from mnistlite import export_web

        return export_web.export_web(
            model, out, int8=int8, calibration=calibration,
            check_images=check_images, check_labels=check_labels, name=name,
        )  # fmt: skip
    weight_bytes = _write(model, out, format, int8, calibration)
    check = _checked(out, format, model, check_images, check_labels, int8)
    return ExportReport(out, format, int8, out.stat().st_size, weight_bytes, check)


def _checked(
    out: Path,
    format: str,
    model: nn.Module,
    images: torch.Tensor | None,
    labels: torch.Tensor | None,
    int8: bool,
) -> ExportCheck | None:
    """The written file against PyTorch; an fp32 file that disagrees is removed and refused."""
    if images is None:
        return None
    check = _check(out, format, model, images, labels)
    if not int8:
        try:
            _require_equal(check, out)
        except ExportError:
            out.unlink(missing_ok=True)
            raise
    return check


def onnx_latency(
    path: str | Path,
    batch_size: int,
    *,
    threads: int = 1,
    repeats: int = 20,
    warmup: int = 3,
    clock: str = "cpu",
) -> float:
    """Seconds per image of ONNX Runtime's fastest call on random inputs at one batch size.

    Args:
        path: The ``.onnx`` file.
        batch_size: Images per call.
        threads: Intra-op threads of the session.
        repeats: Timed calls; the fastest one counts.
        warmup: Untimed calls first.
        clock: ``"cpu"``: the process's CPU time (:func:`time.process_time`), which on a
            machine shared with other jobs leaves out the time they took; with one thread
            it equals the wall time on an idle machine. ``"wall"``: elapsed time
            (:func:`time.perf_counter`).

    Raises:
        ValueError: If ``clock`` is neither ``"cpu"`` nor ``"wall"``.
    """
    clocks = {"cpu": time.process_time, "wall": time.perf_counter}
    if clock not in clocks:
        raise MnistliteError(f"clock must be 'cpu' or 'wall', got {clock!r}")
    now = clocks[clock]
    session = onnx_session(path, threads=threads)
    x = {INPUT_NAME: torch.randn(batch_size, 1, 28, 28).numpy()}
    for _ in range(warmup):
        session.run(None, x)
    fastest = float("inf")
    for _ in range(repeats):
        start = now()
        session.run(None, x)
        fastest = min(fastest, now() - start)
    return fastest / batch_size
