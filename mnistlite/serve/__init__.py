"""A web page to draw digits on, and a prediction API, over :mod:`mnistlite.predict`.

``mnistlite serve`` starts it; :func:`create_app` returns the ASGI app (FastAPI), to run
with any ASGI server or to mount in a service of your own::

    from fastapi import FastAPI
    from mnistlite.serve import create_app

    service = FastAPI()
    service.mount("/digits", create_app(models=["step7", "lite1k"]))

Routes:

* ``GET /``: the page. Draw a digit with a mouse, a finger or a stylus; it shows the
  prediction, the ten probabilities and the 28×28 picture the model saw.
* ``POST /api/predict?model=NAME``: a PNG or JPEG picture as the body (``Content-Type:
  image/png``, ``image/jpeg`` or ``application/octet-stream``) or as a file of a
  ``multipart/form-data`` body. Answers the object ``mnistlite predict --json`` prints
  for that picture (``file``, ``digit``, ``probability``, ``top3``); with
  ``details=true`` also ``model``, all ten ``probabilities`` and ``input``, the 28×28
  picture the model saw (rows of 0-255 values, white ink on black).
* ``GET /api/models``: the served models, their parameters and test accuracy.
* ``GET /api/health``: ``{"status": "ok", ...}``.
* ``GET /docs``: the OpenAPI documentation, from FastAPI.

A bad request gets a 4xx status and ``{"detail": "...", "code": "..."}``: ``detail``
names the problem, ``code`` is one of :data:`mnistlite.serve.schema.ERROR_CODES`. A body
that is empty (400), over :data:`MAX_BYTES` (413), not a PNG or JPEG or truncated (422),
a picture wider or higher than :data:`MAX_SIDE` pixels (413, refused from its header
before decoding), a picture without a digit (422), an unknown model (404), a wrong
method (405) or content type (415), a malformed multipart body (400). Every error has
this body, FastAPI's own validation errors and unknown routes too, and the OpenAPI
document (``/openapi.json``) lists every status of each operation. Bodies are read into
memory only: nothing is written to disk. Each model is loaded once, on first use, and
shared by all requests; inference runs in :func:`torch.inference_mode`.

FastAPI and uvicorn are the optional extra ``mnistlite[serve]``; this module imports
them only inside the functions that need them.
"""

# No ``from __future__ import annotations``: FastAPI reads the route functions'
# annotations (Request, Query) at runtime, and they are imported inside create_app.
import ipaddress
import socket
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from torch import nn

from mnistlite.errors import MissingExtraError, MnistliteError, WeightsError
from mnistlite.predict import probabilities, rank
from mnistlite.preprocess import (
    MNIST_MEAN,
    MNIST_STD,
    DigitImageError,
    PictureTooLargeError,
    load_digit,
    open_picture,
)
from mnistlite.serve.uploads import BadRequest, multipart_file

__all__ = [
    "DEFAULT_MODEL",
    "INSTALL_HINT",
    "MAX_BYTES",
    "MAX_SIDE",
    "ModelInfo",
    "bundled_models",
    "create_app",
    "require_serve",
    "run",
]

INSTALL_HINT = 'pip install "mnistlite[serve]"'
#: The largest request body accepted (2 MiB).
MAX_BYTES = 2 * 1024 * 1024
#: The longest width or height of a picture accepted, read from its header.
MAX_SIDE = 4096
#: The model the page starts with, when it is served.
DEFAULT_MODEL = "step7"
#: Picture formats accepted, as Pillow names them.
FORMATS = ("PNG", "JPEG")
#: Content types of a picture sent as the whole body.
PICTURE_TYPES = ("image/png", "image/jpeg", "application/octet-stream")
STATIC = Path(__file__).resolve().parent / "static"
LOOPBACK = ("localhost",)


def require_serve() -> None:
    """Import FastAPI, uvicorn and python-multipart, or fail naming the extra.

    Raises:
        MissingExtraError: If one is missing (an :class:`ImportError`); the message says
            ``pip install "mnistlite[serve]"``.
    """
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise MissingExtraError(
            f"mnistlite serve needs the 'mnistlite[serve]' extra (fastapi, uvicorn, "
            f"python-multipart); {err.name or 'a package'} is not installed: {INSTALL_HINT}"
        ) from err


@dataclass(frozen=True)
class ModelInfo:
    """What the page and ``GET /api/models`` show of a served model.

    Attributes:
        name: The name requests use (``?model=NAME``).
        params: Its parameter count.
        test_acc: Accuracy (percent) on the MNIST test set from the weights' metadata,
            or None for a model given as a module.
        weights: Which weights: ``"Step7_Weights.MNIST_V1"``, or ``"custom"``.
    """

    name: str
    params: int
    test_acc: float | None
    weights: str


def bundled_models() -> list[str]:
    """The registered models that have bundled weights, in registry order."""
    from mnistlite import models

    names = []
    for name in models.list_models():
        try:
            enum = models.get_model_weights(name)
        except WeightsError:
            continue
        if "DEFAULT" in enum.__members__:
            names.append(name)
    return names


class _Models:
    """The served models: loaded once, on first use, by one thread; shared after that."""

    def __init__(self, models: Sequence[str] | Mapping[str, nn.Module] | None) -> None:
        from mnistlite import models as registry
        from mnistlite.params import count_parameters

        self.infos: dict[str, ModelInfo] = {}
        self._loaders: dict[str, Callable[[], nn.Module]] = {}
        self._loaded: dict[str, nn.Module] = {}
        self._lock = threading.Lock()
        if isinstance(models, Mapping):
            for name, module in models.items():
                if not isinstance(module, nn.Module):
                    raise MnistliteError(
                        f"create_app(models=...): {name!r} maps to a "
                        f"{type(module).__name__}; expected a torch.nn.Module"
                    )
                self.infos[name] = ModelInfo(name, count_parameters(module), None, "custom")
                self._loaded[name] = module.eval()
            return
        bundled = bundled_models()
        names = bundled if models is None else list(models)
        for name in names:
            if name not in bundled:
                raise MnistliteError(
                    f"model {name!r} has no bundled weights to serve; expected one of: "
                    f"{', '.join(bundled)} (or give create_app a module)"
                )
            member = registry.get_model_weights(name).DEFAULT
            meta = member.meta
            self.infos[name] = ModelInfo(
                name,
                int(meta["num_params"]),
                float(meta["test_acc"]),
                f"{type(member).__name__}.{member.name}",
            )
            self._loaders[name] = lambda name=name: registry.get_model(name, weights="DEFAULT")
        if not self.infos:
            raise MnistliteError("create_app(models=...) got no model; expected at least one")

    def get(self, name: str) -> nn.Module:
        """The model, built and loaded on the first call."""
        model = self._loaded.get(name)
        if model is None:
            with self._lock:
                model = self._loaded.get(name)
                if model is None:
                    model = self._loaders[name]().eval()
                    self._loaded[name] = model
        return model


def _answer(model: nn.Module, info: ModelInfo, data: bytes, name: str, details: bool) -> dict:
    """Preprocess and classify one picture, as ``mnistlite predict --json`` does."""
    try:
        picture = open_picture(data, name=name, max_side=MAX_SIDE, formats=FORMATS)
    except PictureTooLargeError as err:
        raise BadRequest("picture_too_large", str(err)) from None
    except DigitImageError as err:
        raise BadRequest("unreadable_picture", str(err)) from None
    try:
        digit = load_digit(picture, name=name)
    except DigitImageError as err:
        raise BadRequest("no_digit", str(err)) from None
    probs = probabilities(model, digit.unsqueeze(0))
    answer = rank(probs, [name])[0].to_dict()
    if details:
        seen = ((digit[0] * MNIST_STD + MNIST_MEAN).clamp(0, 1) * 255).round().to(int)
        answer["model"] = asdict(info)
        answer["probabilities"] = [float(p) for p in probs[0]]
        answer["input"] = seen.tolist()
    return answer


async def _read_body(request: Any) -> bytes:
    """The body, refused as soon as it is known to exceed MAX_BYTES."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BYTES:
        raise BadRequest(
            "body_too_large",
            f"body of {int(length):,} bytes is over the limit of {MAX_BYTES:,} bytes (2 MiB)",
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise BadRequest(
                "body_too_large", f"body is over the limit of {MAX_BYTES:,} bytes (2 MiB)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    models: Sequence[str] | Mapping[str, nn.Module] | None = None, *, default: str | None = None
) -> Any:
    """Build the ASGI app: the draw-a-digit page and the prediction API.

    Its OpenAPI document (``/openapi.json``) is the API's contract: every status each
    operation can answer is listed there, errors with the one body
    ``Error`` (``detail`` and ``code``, see :data:`mnistlite.serve.schema.ERROR_CODES`).

    Args:
        models: Which models to serve: None for every registered model with bundled
            weights, a list of such names, or a mapping from names to your own modules
            (e.g. ``{"mine": models.get_model("step7", weights="runs/step7/model.pt")}``).
        default: The model the page starts with and ``/api/predict`` uses without
            ``?model=`` (default: ``step7`` when served, else the first).

    Returns:
        A ``fastapi.FastAPI`` app; run it with uvicorn or mount it in your own app.

    Raises:
        MissingExtraError: If FastAPI is not installed (``pip install "mnistlite[serve]"``).
        MnistliteError: If a named model has no bundled weights, a mapping's value is not
            a module, or ``default`` is not among the served models.
    """
    require_serve()
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    from mnistlite import __version__

    served = _Models(models)
    if default is None:
        default = DEFAULT_MODEL if DEFAULT_MODEL in served.infos else next(iter(served.infos))
    elif default not in served.infos:
        raise MnistliteError(
            f"model {default!r} is not served; expected one of: {', '.join(served.infos)}"
        )
    page = (STATIC / "index.html").read_text(encoding="utf-8")

    app = FastAPI(
        title="mnistlite",
        version=__version__,
        summary="Compact MNIST CNNs: draw a digit, or classify a picture of one.",
        description='Every error answer is `{"detail": "...", "code": "..."}` '
        "(schema `Error`); each operation lists the statuses it can answer.",
    )
    app.state.models = served
    _add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    _add_info_routes(app, served, default)
    _add_predict_route(app, served, default)
    return app


def _add_error_handlers(app: Any) -> None:
    """Answer every error, FastAPI's and Starlette's own too, with the one Error body."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    def error(code: str, detail: str, status: int, headers: Any = None) -> JSONResponse:
        return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BadRequest)
        return error(exc.code, exc.detail, exc.status)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code, detail = "internal_error", str(exc.detail)
        if exc.status_code == 405:
            headers = {key.lower(): value for key, value in (exc.headers or {}).items()}
            allowed = headers.get("allow", "another method")
            code = "method_not_allowed"
            detail = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
        elif exc.status_code == 404:
            code, detail = "not_found", f"no such page: {request.url.path}"
        return error(code, detail, exc.status_code, exc.headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem.get("loc", ()))
            given = problem.get("input")
            problems.append(f"{where}: {problem.get('msg', 'invalid')}, got {given!r}")
        return error("invalid_parameter", "; ".join(problems) or "invalid request", 422)

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        return error("internal_error", "internal error; the server's log has the traceback", 500)

    app.add_exception_handler(BadRequest, refused)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crashed)


def _add_info_routes(app: Any, served: _Models, default: str) -> None:
    """``GET /api/health`` and ``GET /api/models``."""
    from mnistlite import __version__
    from mnistlite.serve.schema import Health, ModelList

    @app.get(
        "/api/health",
        summary="Whether the server answers",
        response_model=None,
        responses={200: {"model": Health, "description": "The server answers."}},
    )
    def health() -> dict:
        return {"status": "ok", "version": __version__, "models": len(served.infos)}

    @app.get(
        "/api/models",
        summary="The served models",
        response_model=None,
        responses={200: {"model": ModelList, "description": "The served models."}},
    )
    def list_models() -> dict:
        return {"default": default, "models": [asdict(info) for info in served.infos.values()]}


def _picture_body() -> dict[str, Any]:
    """The request body of ``POST /api/predict``, with its limits."""
    picture = {
        "type": "string",
        "format": "binary",
        "maxLength": MAX_BYTES,
        "description": f"A PNG or JPEG file of at most {MAX_BYTES:,} bytes and {MAX_SIDE:,} "
        "pixels a side (checked from its header); it must hold a visible digit.",
    }
    return {
        "required": True,
        "description": f"A {' or '.join(FORMATS)} picture of one handwritten digit, as the "
        f"body or as the file of a multipart form. Limits: {MAX_BYTES:,} bytes (2 MiB; "
        f"413 `body_too_large`), {MAX_SIDE:,} pixels a side (413 `picture_too_large`), "
        "PNG or JPEG only (422 `unreadable_picture`), some ink on the paper and at least "
        "2 pixels a side (422 `no_digit`).",
        "content": {
            **{kind: {"schema": picture} for kind in PICTURE_TYPES},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": picture},
                    "required": ["file"],
                },
                "encoding": {"file": {"contentType": "image/png, image/jpeg"}},
            },
        },
    }


#: The error codes ``POST /api/predict`` can answer (see :mod:`mnistlite.serve.schema`).
_PREDICT_ERRORS = (
    "empty_body",
    "malformed_multipart",
    "no_file",
    "unknown_model",
    "body_too_large",
    "picture_too_large",
    "unsupported_media_type",
    "unreadable_picture",
    "no_digit",
    "invalid_parameter",
)


def _add_predict_route(app: Any, served: _Models, default: str) -> None:
    """``POST /api/predict``."""
    from fastapi import Query, Request
    from starlette.concurrency import run_in_threadpool

    from mnistlite.serve.schema import Prediction, error_responses

    errors = error_responses(*_PREDICT_ERRORS)

    @app.post(
        "/api/predict",
        summary="Classify a picture of a digit",
        response_model=None,
        responses={200: {"model": Prediction, "description": "The prediction."}, **errors},
        openapi_extra={"requestBody": _picture_body()},
    )
    async def predict(
        request: Request,
        model: str = Query(
            default,
            description=f"a served model (default: {default})",
            json_schema_extra={"enum": list(served.infos)},
        ),
        details: bool = Query(False, description="add probabilities and the 28x28 input"),
    ) -> dict:
        """The object ``mnistlite predict --json`` prints for the picture."""
        if model not in served.infos:
            raise BadRequest(
                "unknown_model", f"unknown model {model!r}; served: {', '.join(served.infos)}"
            )
        content_type = request.headers.get("content-type", "")
        kind = content_type.split(";")[0].strip().lower()
        if kind not in (*PICTURE_TYPES, "multipart/form-data"):
            raise BadRequest(
                "unsupported_media_type",
                f"content type {content_type or '(none)'!r} is not accepted; send "
                f"{', '.join(PICTURE_TYPES)} or multipart/form-data",
            )
        body = await _read_body(request)
        if not body:
            raise BadRequest("empty_body", "empty body; send a PNG or JPEG picture")
        filename = "image"
        if kind == "multipart/form-data":
            filename, body = multipart_file(body, content_type)
            if not body:
                raise BadRequest(
                    "empty_body", f"the file {filename!r} in the multipart body is empty"
                )
        module = await run_in_threadpool(served.get, model)
        info = served.infos[model]
        return await run_in_threadpool(_answer, module, info, body, filename, details)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0 picks a free port)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as err:
        raise MnistliteError(
            f"cannot listen on {host}:{port} ({err.strerror or err}); is another server on "
            "that port? choose another (port=0 picks a free one)"
        ) from None


def run(
    model: str | None = None,
    *,
    weights: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Serve the page and the API until interrupted (Ctrl-C, or SIGTERM), then return.

    Prints the address, and a warning when ``host`` is not a loopback address: the API
    has no authentication.

    Args:
        model: The model the page starts with (default: ``step7``). With ``weights``, the
            model whose architecture the file fits; only that model is served.
        weights: A state-dict file (``model.pt`` or ``checkpoint.pt`` of ``mnistlite
            train``) or a bundled member name for ``model``.
        host: The address to listen on (default: this machine only).
        port: The port; 0 picks a free one.

    Raises:
        MissingExtraError: If the ``serve`` extra is not installed.
        MnistliteError: If the model or weights are unknown, or the port is taken.
    """
    require_serve()
    import uvicorn

    from mnistlite import models as registry

    if weights is not None:
        if model is None:
            raise MnistliteError("weights=... needs the model it fits (model='step7', say)")
        app = create_app({model: registry.get_model(model, weights=weights)}, default=model)
    else:
        app = create_app(default=model)
    sock = _bind(host, port)
    if not _is_loopback(host):
        print(
            f"mnistlite serve: warning: listening on {host}, reachable from other machines; "
            "the API has no authentication",
            file=sys.stderr,
            flush=True,
        )
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(f"mnistlite serve: http://{shown}:{bound_port}/ (Ctrl-C stops it)", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shut down, then passed Ctrl-C on
        pass
    finally:
        sock.close()
    print("mnistlite serve: stopped", flush=True)
