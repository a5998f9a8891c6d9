"""Reading the picture out of a request to ``mnistlite serve``'s API.

One job: a multipart/form-data body becomes (file name, bytes), or a :class:`BadRequest`
with the API's error code (:data:`mnistlite.serve.schema.ERROR_CODES`) and a message that
says what was wrong.
"""

from __future__ import annotations

from typing import Any


class BadRequest(Exception):
    """A request the API refuses: its error code (which sets the status) and ``detail``."""

    def __init__(self, code: str, detail: str) -> None:
        from mnistlite.serve.schema import ERROR_CODES

        super().__init__(detail)
        self.code = code
        self.status = ERROR_CODES[code][0]
        self.detail = detail


def multipart_file(body: bytes, content_type: str) -> tuple[str, bytes]:
    """The first file of a multipart/form-data body: (its file name, its bytes)."""
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    boundary = parse_options_header(content_type)[1].get(b"boundary")
    if not boundary:
        raise BadRequest(
            "malformed_multipart", "malformed multipart body: its Content-Type names no boundary"
        )
    parts: list[dict[str, Any]] = []
    header = {"field": b"", "value": b""}
    ended: list[bool] = []

    def on_part_begin() -> None:
        parts.append({"headers": {}, "data": bytearray()})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def on_header_end() -> None:
        parts[-1]["headers"][header["field"].lower()] = header["value"]
        header["field"] = header["value"] = b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1]["data"] += data[start:end]

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
        "on_end": lambda: ended.append(True),
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        parser.write(body)
        parser.finalize()
    except MultipartParseError as err:
        raise BadRequest("malformed_multipart", f"malformed multipart body: {err}") from None
    if not ended:
        raise BadRequest(
            "malformed_multipart", "malformed multipart body: it ends before its closing boundary"
        )
    for part in parts:
        disposition = parse_options_header(part["headers"].get(b"content-disposition", b""))[1]
        if b"filename" in disposition:
            name = disposition[b"filename"].decode("utf-8", "replace") or "image"
            return name, bytes(part["data"])
    raise BadRequest(
        "no_file",
        "multipart body has no file; send the picture as a file field (curl -F file=@x.png)",
    )
