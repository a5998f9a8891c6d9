"""torch.hub entry points of mnistlite: one per registered model, generated from the registry.

::

    import torch

    model = torch.hub.load("OWNER/mnistlite", "lite1k", weights="DEFAULT")   # from GitHub
    model = torch.hub.load("path/to/mnistlite", "lite1k", weights="DEFAULT", source="local")
    torch.hub.list("path/to/mnistlite", source="local")    # the model names

Each entry point is the model's builder, :func:`mnistlite.models.get_model_builder`'s
function: it takes ``weights`` (``"DEFAULT"``, a member name, a weights enum member, or the
path of a ``.safetensors``/``.pt`` file) and the model's options, and gives the same model
as ``mnistlite.models.NAME(...)``. The bundled weights come with the repository, so
nothing is downloaded besides it.
"""

from mnistlite import models as _models

#: Packages torch.hub checks for before it imports this file.
dependencies = ["torch", "safetensors"]

globals().update({_name: _models.get_model_builder(_name) for _name in _models.list_models()})
