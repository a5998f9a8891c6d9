"""Weight-only int8 ONNX: 8-bit weights, float activations, no calibration.

The static int8 export (:func:`mnistlite.export.quantize_onnx`) quantizes every
activation too: each layer gets a QuantizeLinear/DequantizeLinear pair and their scales,
and for the smallest networks those graph parts outweigh the bytes the 8-bit weights
save. Here only the convolution and linear weights are stored as int8, each followed by
one DequantizeLinear node (symmetric, zero point 0, one scale per tensor or per output
channel); the computation stays in float. The file is smaller whenever the weights are
more than a few hundred bytes; the model is not faster.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistlite.atomic import atomic_write
from mnistlite.export import require_onnx, slim_onnx

__all__ = ["quantize_weights_onnx"]

_WEIGHT_OPS = {"Conv": 1, "Gemm": 1, "MatMul": 1}  # op type -> input index of the weight


def _quantize(weight: np.ndarray, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8: ``weight ≈ q * scale``; scale per tensor or per output channel."""
    flat = weight.reshape(weight.shape[0], -1) if per_channel else weight.reshape(1, -1)
    peak = np.abs(flat).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    shape = (-1,) + (1,) * (weight.ndim - 1) if per_channel else ()
    q = np.clip(np.round(weight / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale if per_channel else scale.reshape(())


def quantize_weights_onnx(
    source: str | Path | bytes, out: str | Path, *, per_channel: bool = False
) -> Path:
    """Store an fp32 ONNX model's weights as int8 (weight-only), writing ``out`` atomically.

    Args:
        source: An fp32 ``.onnx`` file written by :func:`mnistlite.export.export_onnx`,
            or its bytes.
        out: The ``.onnx`` file to write.
        per_channel: One scale per output channel instead of one per tensor.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.
    """
    onnx, _ = require_onnx()
    from onnx import helper, numpy_helper

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    proto = onnx.load_from_string(data)
    graph = proto.graph
    inits = {init.name: init for init in graph.initializer}
    dequantize = []
    for node in graph.node:
        index = _WEIGHT_OPS.get(node.op_type)
        if index is None or len(node.input) <= index or node.input[index] not in inits:
            continue
        init = inits.pop(node.input[index])
        weight = numpy_helper.to_array(init)
        if weight.ndim < 2:
            continue
        q, scale = _quantize(weight, per_channel)
        name = init.name
        graph.initializer.remove(init)
        graph.initializer.extend(
            [numpy_helper.from_array(q, f"{name}_q"), numpy_helper.from_array(scale, f"{name}_s")]
        )
        axis = {"axis": 0} if per_channel else {}
        dequantize.append(
            helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_s"], [name], **axis)
        )
    nodes = dequantize + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    slimmed = slim_onnx(proto.SerializeToString())
    return atomic_write(out, lambda handle: handle.write(slimmed))
