"""The one family of exceptions mnistlite raises for bad input.

Every error a user can cause (an unknown model or recipe name, an argument out of
range, a missing dataset, a changed weights file, a checkpoint of another run) is a
:class:`MnistliteError`. It subclasses :class:`ValueError`, so code written as
``except ValueError`` keeps working; the file-related members also subclass the
built-in class one would expect (:class:`FileNotFoundError`, :class:`ImportError`).
The command line turns exactly this family (and argparse's usage errors) into exit
status 2 with one line on stderr; anything else is a bug and shows its traceback.

::

    MnistliteError (ValueError)
    ├── CheckpointError              a checkpoint is missing, corrupt or does not fit
    │   └── ResumeMismatchError      a checkpoint of another run (recipe, seed, data)
    ├── WeightsError                 a weights file is missing, changed or does not fit
    ├── DatasetNotFoundError         MNIST is missing (also a FileNotFoundError)
    ├── MissingExtraError            an optional extra is not installed (also an ImportError)
    ├── ExportError                  an export cannot be made, or its file failed its check
    └── DigitImageError              a person's picture cannot be read or holds no digit
        └── PictureTooLargeError     its header announces more pixels than the limit

This module knows nothing else of the package.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "DatasetNotFoundError",
    "DigitImageError",
    "ExportError",
    "MissingExtraError",
    "MnistliteError",
    "PictureTooLargeError",
    "ResumeMismatchError",
    "WeightsError",
]


class MnistliteError(ValueError):
    """Bad input given to mnistlite; the message names what was given and what is expected."""


class CheckpointError(MnistliteError):
    """A checkpoint is missing, truncated, corrupt or from another run's shape."""


class ResumeMismatchError(CheckpointError):
    """A checkpoint was written by a different run (recipe, seed or training images)."""


class WeightsError(MnistliteError):
    """A weights file is missing, changed, truncated, not a state dict, or does not fit."""


class DatasetNotFoundError(MnistliteError, FileNotFoundError):
    """The MNIST files are not under the given root (and downloading was not asked for)."""


class MissingExtraError(MnistliteError, ImportError):
    """An optional dependency is missing; the message names the ``pip install`` line."""


class ExportError(MnistliteError):
    """An export was asked for something it cannot do, or its file failed the check."""


class DigitImageError(MnistliteError):
    """A picture could not be read, or holds no digit (no ink)."""


class PictureTooLargeError(DigitImageError):
    """A picture's header announces more pixels (or a longer side) than the limit."""
