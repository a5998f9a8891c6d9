"""mnistlite: compact MNIST convolutional networks, from a 6.4M baseline to ~10K parameters.

>>> from mnistlite import models, params
>>> model = models.step7()
>>> params.count_parameters(model)
10252
"""

from mnistlite import blocks, data, errors, models, params, recipes, runs, stacked, training
from mnistlite.training import History, Trainer

__version__ = "0.1.0"

__all__ = [
    "History",
    "Trainer",
    "__version__",
    "blocks",
    "data",
    "errors",
    "models",
    "params",
    "recipes",
    "runs",
    "stacked",
    "training",
]
