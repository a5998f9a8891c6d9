"""The API's contract: the one error model, its codes, and the answers of each route.

Every answer other than a 2xx has the body ``Error``, ``{"detail": "...", "code":
"..."}``: ``detail`` is a sentence for people that names what was sent and what is
expected, ``code`` one of :data:`ERROR_CODES`, for programs. The OpenAPI document of
:func:`mnistlite.serve.create_app` lists, for each operation, every status it can answer
with this model, and the request's limits.

The models are pydantic classes (pydantic comes with FastAPI, in the ``serve`` extra);
import this module only where FastAPI is installed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ERROR_CODES",
    "Error",
    "ErrorCode",
    "Health",
    "ModelEntry",
    "ModelList",
    "Prediction",
    "Score",
    "error_responses",
]

#: The machine-readable ``code`` of an error answer.
ErrorCode = Literal[
    "empty_body",
    "malformed_multipart",
    "no_file",
    "unknown_model",
    "not_found",
    "method_not_allowed",
    "body_too_large",
    "picture_too_large",
    "unsupported_media_type",
    "unreadable_picture",
    "no_digit",
    "invalid_parameter",
    "internal_error",
]

#: The status that comes with each error code, and when the code is answered.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "empty_body": (400, "the body (or the multipart file) is empty"),
    "malformed_multipart": (400, "a multipart body without a boundary, or cut short"),
    "no_file": (400, "a multipart body without a file part"),
    "unknown_model": (404, "``?model=`` names a model that is not served"),
    "not_found": (404, "no such route"),
    "method_not_allowed": (405, "the route does not take this method (see ``Allow``)"),
    "body_too_large": (413, "the body is over the byte limit"),
    "picture_too_large": (413, "the picture's header announces a side or pixels over the limit"),
    "unsupported_media_type": (415, "a Content-Type other than the accepted ones"),
    "unreadable_picture": (422, "not a PNG or JPEG, or truncated or corrupt"),
    "no_digit": (422, "a readable picture without a digit: blank, or a side under 2 pixels"),
    "invalid_parameter": (422, "a query parameter of the wrong type (``details=maybe``)"),
    "internal_error": (500, "a bug: the server's log has the traceback"),
}
assert set(ERROR_CODES) == set(get_args(ErrorCode))


class Error(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(extra="forbid")

    detail: str = Field(description="What was wrong, naming what was sent and what is expected.")
    code: ErrorCode = Field(description="What was wrong, for programs (see the API docs).")


class Score(BaseModel):
    """One digit and its probability."""

    model_config = ConfigDict(extra="forbid")

    digit: int = Field(ge=0, le=9)
    probability: float = Field(ge=0, le=1)


class ModelEntry(BaseModel):
    """A served model (:class:`mnistlite.serve.ModelInfo`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The name requests use (``?model=NAME``).")
    params: int = Field(ge=0, description="Its parameter count.")
    test_acc: float | None = Field(
        description="Accuracy (percent) on the MNIST test set; null for a custom module."
    )
    weights: str = Field(description='Which weights, e.g. "Step7_Weights.MNIST_V1" or "custom".')


#: A pixel of the picture the model saw.
Pixel = Annotated[int, Field(ge=0, le=255)]


class Prediction(BaseModel):
    """What ``mnistlite predict --json`` prints for one picture; more with ``details``."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(description='The multipart file name, or "image" for a raw body.')
    digit: int = Field(ge=0, le=9, description="The most probable digit.")
    probability: float = Field(ge=0, le=1, description="Its probability.")
    top3: list[Score] = Field(min_length=3, max_length=3, description="Best three, best first.")
    model: ModelEntry | None = Field(None, description="With details=true: the model.")
    probabilities: list[float] | None = Field(
        None, min_length=10, max_length=10, description="With details=true: all ten, 0 to 9."
    )
    input: list[Annotated[list[Pixel], Field(min_length=28, max_length=28)]] | None = Field(
        None,
        min_length=28,
        max_length=28,
        description="With details=true: the 28x28 picture the model saw (0-255, white ink).",
    )


class ModelList(BaseModel):
    """``GET /api/models``."""

    model_config = ConfigDict(extra="forbid")

    default: str = Field(description="The model used without ``?model=``.")
    models: list[ModelEntry]


class Health(BaseModel):
    """``GET /api/health``."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]
    version: str
    models: int = Field(ge=1, description="How many models are served.")


def error_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of an operation that can answer these error codes.

    One entry per status, with the ``Error`` model and a description that lists
    the codes the operation answers with it.
    """
    answers: dict[int | str, dict[str, Any]] = {}
    for status in sorted({ERROR_CODES[code][0] for code in codes}):
        lines = "; ".join(
            f"`{code}`: {ERROR_CODES[code][1]}" for code in codes if ERROR_CODES[code][0] == status
        )
        answers[status] = {"model": Error, "description": lines}
    return answers
