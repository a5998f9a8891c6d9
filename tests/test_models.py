"""Tests of mnistlite.models: the notebooks' seven steps, the registry and the input checks."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from mnistlite import models
from mnistlite.models import registry
from mnistlite.models.spec import Conv, Head, NetSpec, Pool, SpecNet

STEPS = [f"step{i}" for i in range(1, 8)]

PARAM_COUNTS = {
    "step1": 6_379_786,
    "step2": 7_688,
    "step3": 7_852,
    "step4": 7_852,
    "step5": 10_252,
    "step6": 10_252,
    "step7": 10_252,
}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def built() -> dict[str, nn.Module]:
    """Every step of the notebooks, built once for the module (step 1 takes a moment)."""
    torch.manual_seed(0)
    return {name: models.get_model(name) for name in STEPS}


def _isolate(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    patch.setattr(registry, "_WEIGHTS", dict(registry._WEIGHTS))


@pytest.fixture
def isolated_registry(monkeypatch):
    """A private copy of the registry, so user registrations do not leak into other tests."""
    _isolate(monkeypatch)


# --- outputs and parameter counts --------------------------------------------------------


@pytest.mark.parametrize("name", STEPS)
@pytest.mark.parametrize("batch", [1, 130])
def test_logits_shape(built, name, batch):
    model = built[name].eval()
    with torch.no_grad():
        out = model(torch.randn(batch, 1, 28, 28))
    assert out.shape == (batch, 10)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(("name", "count"), PARAM_COUNTS.items())
def test_pinned_parameter_counts(built, name, count):
    assert n_params(built[name]) == count


@pytest.mark.parametrize("name", STEPS)
def test_builder_functions_match_registry(name):
    builder = getattr(models, name)
    assert models.get_model_builder(name) is builder
    assert builder.__name__ == name
    assert isinstance(builder(), SpecNet)


# --- layer structure: the notebooks' layer tables ----------------------------------------
# Written out here apart from the specs of mnistlite/models/notebooks.py, so a wrong spec fails.


def describe(model: nn.Module) -> list[str]:
    """The model's leaf layers as short strings, in execution order."""
    out = []
    for module in model.modules():
        if list(module.children()):
            continue
        if isinstance(module, nn.Conv2d):
            bias = "+b" if module.bias is not None else ""
            out.append(
                f"conv {module.in_channels}->{module.out_channels} "
                f"k{module.kernel_size[0]} p{module.padding[0]}{bias}"
            )
        elif isinstance(module, nn.ReLU):
            out.append("relu")
        elif isinstance(module, nn.BatchNorm2d):
            out.append(f"bn {module.num_features}")
        elif isinstance(module, nn.Dropout):
            out.append(f"drop {module.p}")
        elif isinstance(module, nn.MaxPool2d):
            out.append(f"maxpool {module.kernel_size}/{module.stride}")
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            out.append("gap")
        elif isinstance(module, nn.Flatten):
            out.append("flatten")
        else:
            out.append(type(module).__name__)
    return out


def notebook_layers(convs, *, bn: bool, dropout: float, bias: bool = False) -> list[str]:
    """Expand a layer table into leaf layers: conv → ReLU → [BN] → [Dropout]."""
    layers = []
    for conv in convs:
        if conv in ("pool", "gap"):
            layers.append("maxpool 2/2" if conv == "pool" else "gap")
            continue
        cin, cout, k, pad, post = conv
        layers.append(f"conv {cin}->{cout} k{k} p{pad}" + ("+b" if bias else ""))
        if post:
            layers.append("relu")
            if bn:
                layers.append(f"bn {cout}")
            if dropout:
                layers.append(f"drop {dropout}")
    return layers + ["flatten"]


STEP1_TABLE = [
    (1, 32, 3, 1, True),
    (32, 64, 3, 1, True),
    "pool",
    (64, 128, 3, 1, True),
    (128, 256, 3, 1, True),
    "pool",
    (256, 512, 3, 0, True),
    (512, 1024, 3, 0, True),
    (1024, 10, 3, 0, False),
]
STEP2_TABLE = [
    (1, 8, 3, 1, True),
    (8, 16, 3, 0, True),
    "pool",
    (16, 16, 3, 0, True),
    (16, 16, 3, 0, True),
    (16, 14, 1, 0, True),
    (14, 12, 3, 0, True),
    "gap",
    (12, 10, 1, 0, False),
]
STEP5_TABLE = [
    (1, 8, 3, 1, True),
    (8, 16, 3, 0, True),
    "pool",
    (16, 16, 3, 0, True),
    (16, 16, 3, 0, True),
    (16, 14, 1, 1, True),
    (14, 12, 3, 1, True),
    (12, 12, 3, 0, True),
    (12, 10, 3, 0, True),
    "gap",
    (10, 10, 1, 0, False),
]
EXPECTED_LAYERS = {
    "step1": notebook_layers(STEP1_TABLE, bn=False, dropout=0.0, bias=True),
    "step2": notebook_layers(STEP2_TABLE, bn=False, dropout=0.0),
    "step3": notebook_layers(STEP2_TABLE, bn=True, dropout=0.0),
    "step4": notebook_layers(STEP2_TABLE, bn=True, dropout=0.07),
    "step5": notebook_layers(STEP5_TABLE, bn=True, dropout=0.07),
    "step6": notebook_layers(STEP5_TABLE, bn=True, dropout=0.07),
    "step7": notebook_layers(STEP5_TABLE, bn=True, dropout=0.07),
}


def test_the_steps_live_in_models_notebooks():
    """The specs are in mnistlite.models.notebooks; no module is named after a random seed."""
    import importlib

    notebooks = importlib.import_module("mnistlite.models.notebooks")
    assert notebooks.STEP5 is models.STEP5 and notebooks.step7 is models.step7
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("mnistlite.models." + "seed")  # split: see test_wording


@pytest.mark.parametrize("name", STEPS)
def test_layer_structure_matches_the_notebooks(built, name):
    assert describe(built[name]) == EXPECTED_LAYERS[name]


def conv_output_sides(model: nn.Module) -> list[int]:
    sides: list[int] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: sides.append(out.shape[-1]))
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 1, 28, 28))
    finally:
        for hook in hooks:
            hook.remove()
    return sides


@pytest.mark.parametrize(
    ("name", "sides"),
    [
        ("step1", [28, 28, 14, 14, 5, 3, 1]),
        ("step2", [28, 26, 11, 9, 9, 7, 1]),
        ("step4", [28, 26, 11, 9, 9, 7, 1]),
        ("step5", [28, 26, 11, 9, 11, 11, 9, 7, 1]),
        ("step7", [28, 26, 11, 9, 11, 11, 9, 7, 1]),
    ],
)
def test_feature_map_sides_match_the_notebooks(built, name, sides):
    assert conv_output_sides(built[name]) == sides


def test_step5_one_by_one_conv_has_padding_one_and_grows_map(built):
    one_by_one = [
        m for m in built["step5"].modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
    ]
    transition = one_by_one[0]  # the second 1×1 is the head's classifier
    assert transition.padding == (1, 1)
    assert (transition.in_channels, transition.out_channels) == (16, 14)
    sides = conv_output_sides(built["step5"])
    assert sides[3:5] == [9, 11]


@pytest.mark.parametrize("name", ["step4", "step5", "step6", "step7"])
def test_dropout_007_follows_every_batchnorm(built, name):
    leaves = [m for m in built[name].modules() if not list(m.children())]
    bn_positions = [i for i, m in enumerate(leaves) if isinstance(m, nn.BatchNorm2d)]
    assert bn_positions
    for i in bn_positions:
        assert isinstance(leaves[i + 1], nn.Dropout)
        assert leaves[i + 1].p == pytest.approx(0.07)
    n_dropout = sum(isinstance(m, nn.Dropout) for m in leaves)
    assert n_dropout == len(bn_positions)


@pytest.mark.parametrize("name", ["step1", "step2"])
def test_no_batchnorm_or_dropout(built, name):
    kinds = {type(m) for m in built[name].modules()}
    assert nn.BatchNorm2d not in kinds
    assert not any(issubclass(k, nn.Dropout) for k in kinds)


def test_step3_has_batchnorm_but_no_dropout(built):
    kinds = [type(m) for m in built["step3"].modules()]
    assert kinds.count(nn.BatchNorm2d) == 6
    assert not any(issubclass(k, nn.Dropout) for k in kinds)


def test_only_step1_convs_have_bias(built):
    for name, model in built.items():
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        if name == "step1":
            assert all(c.bias is not None for c in convs)
        else:
            assert all(c.bias is None for c in convs)


# --- registry ----------------------------------------------------------------------------


def test_list_models_begins_with_the_seven_steps_in_order():
    assert models.list_models()[:7] == STEPS


def test_get_model_unknown_name_lists_available_names():
    with pytest.raises(ValueError, match="unknown model 'nope'") as info:
        models.get_model("nope")
    for name in STEPS:
        assert name in str(info.value)


def test_get_model_passes_options():
    model = models.get_model("step3", dropout=0.1)
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 6
    assert all(d.p == pytest.approx(0.1) for d in drops)


def test_register_user_builder(isolated_registry):
    spec = NetSpec(layers=(Conv(1, 4, 3, 0), Pool(), Conv(4, 10, 3, 0), Head(10)))

    @models.register_model("tiny_user_net")
    def tiny_user_net(*, weights=None, progress=True, **kwargs):
        return SpecNet(spec.with_options(**kwargs))

    assert models.list_models()[-1] == "tiny_user_net"
    assert models.list_models()[:7] == STEPS
    model = models.get_model("tiny_user_net", batchnorm=False)
    assert model.eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_register_duplicate_name_raises(isolated_registry):
    @models.register_model("dup_net")
    def first(**kwargs):
        return nn.Identity()

    with pytest.raises(ValueError, match="already registered"):

        @models.register_model("dup_net")
        def second(**kwargs):
            return nn.Identity()

    assert models.get_model_builder("dup_net") is first
    with pytest.raises(ValueError, match="already registered"):
        models.register_model("step7")(first)


def test_register_empty_name_raises():
    with pytest.raises(ValueError, match="non-empty"):
        models.register_model("")


def test_the_isolated_registry_forgets_what_was_registered_in_it():
    """The fixture's isolation itself, checked within one test (whatever ran before)."""
    before = models.list_models()
    with pytest.MonkeyPatch.context() as patch:
        _isolate(patch)

        @models.register_model("leak_check_net")
        def leak_check_net(**kwargs):
            return nn.Identity()

        assert models.list_models() == [*before, "leak_check_net"]
    assert models.list_models() == before
    with pytest.raises(ValueError, match="leak_check_net"):
        models.get_model_builder("leak_check_net")


# --- builder arguments -------------------------------------------------------------------


@pytest.mark.parametrize("weights", ["DEFAULT", "IMAGENET1K_V1"])
def test_step1_weights_not_bundled(weights):
    with pytest.raises(ValueError, match="not bundled"):
        models.step1(weights=weights)


def test_unknown_weights_name_raises():
    with pytest.raises(ValueError, match="unknown weights 'NO_SUCH_WEIGHTS'"):
        models.step7(weights="NO_SUCH_WEIGHTS")


@pytest.mark.parametrize("name", ["step1", "step2", "step7"])
def test_unknown_option_raises(name):
    with pytest.raises(ValueError, match="unknown model option") as info:
        models.get_model(name, widht=2)
    assert "widht" in str(info.value)
    assert "dropout" in str(info.value)  # lists the allowed options


def test_builders_are_keyword_only():
    with pytest.raises(TypeError):
        models.step7(None)


# --- input checking ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "given"),
    [
        ((2, 28, 28), "(2, 28, 28)"),
        ((2, 3, 28, 28), "(2, 3, 28, 28)"),
        ((2, 1, 14, 14), "(2, 1, 14, 14)"),
        ((1, 28, 28), "(1, 28, 28)"),
        ((28, 28), "(28, 28)"),
    ],
)
@pytest.mark.parametrize("name", ["step2", "step7"])
def test_bad_shape_raises_value_error_naming_both_shapes(built, name, shape, given):
    with pytest.raises(ValueError) as info:
        built[name](torch.randn(shape))
    message = str(info.value)
    assert "(N, 1, 28, 28)" in message
    assert given in message


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_integer_image_raises_value_error_naming_dtype(built, dtype):
    x = torch.randint(0, 255, (2, 1, 28, 28), dtype=dtype)
    with pytest.raises(ValueError) as info:
        built["step7"](x)
    message = str(info.value)
    assert str(dtype) in message
    assert "floating-point" in message


def test_non_tensor_input_raises_type_error(built):
    with pytest.raises(TypeError, match="torch.Tensor"):
        built["step7"]([[0.0] * 28] * 28)


def test_float64_model_and_input_work():
    model = models.step7().double().eval()
    assert model(torch.randn(2, 1, 28, 28, dtype=torch.float64)).dtype == torch.float64


# --- modes -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STEPS)
def test_eval_mode_is_deterministic(built, name):
    model = built[name].eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_train_mode_dropout_varies_between_passes():
    torch.manual_seed(1)
    model = models.step7().train()
    x = torch.randn(8, 1, 28, 28)
    first, second = model(x), model(x)
    assert first.shape == second.shape == (8, 10)
    assert not torch.equal(first, second)
    first.sum().backward()  # and gradients flow in train mode
    assert all(p.grad is not None for p in model.parameters())


def test_train_mode_without_dropout_or_bn_is_deterministic():
    model = models.step2().train()
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(model(x), model(x))


# --- memory format, compile, export ------------------------------------------------------


def test_channels_last_matches_contiguous():
    torch.manual_seed(2)
    model = models.step7().eval()
    last = copy.deepcopy(model).to(memory_format=torch.channels_last)
    x = torch.randn(6, 1, 28, 28)
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(last(x), expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(
            last(x.to(memory_format=torch.channels_last)), expected, rtol=1e-5, atol=1e-6
        )


def test_torch_compile_matches_eager():
    torch.manual_seed(3)
    model = models.step7().eval()
    x = torch.randn(4, 1, 28, 28)
    compiled = torch.compile(model)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)


def test_torch_export_matches_eager():
    torch.manual_seed(4)
    model = models.step7().eval()
    x = torch.randn(4, 1, 28, 28)
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-6)


def test_float64_input_is_refused_at_the_boundary():
    model = models.step7().eval()
    with pytest.raises(ValueError, match="float32.*float64"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.float64))
    assert model.double()(torch.zeros(2, 1, 28, 28, dtype=torch.float64)).shape == (2, 10)


# -- spec <-> dict ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [n for n in dir(models) if n.startswith(("LITE", "STEP"))],
)
def test_every_bundled_spec_round_trips_through_json(name):
    import json

    spec = getattr(models, name)
    data = json.loads(json.dumps(models.spec_to_dict(spec)))
    assert models.spec_from_dict(data) == spec
    assert models.describe_spec(spec)


def test_spec_serialization_is_generic_over_layer_dataclasses(monkeypatch):
    """A new layer type in LayerSpec serializes with no code of its own (tuples too)."""
    from dataclasses import dataclass

    from mnistlite.models import spec as spec_module

    @dataclass(frozen=True)
    class SharedConv:
        cin: int
        cout: int
        repeats: tuple[int, ...] = (1, 2)

    monkeypatch.setattr(spec_module, "LayerSpec", spec_module.LayerSpec | SharedConv)
    spec = NetSpec(layers=(Conv(1, 4, 3, 1), SharedConv(4, 4, (3, 3)), Pool(), Head(4)))
    data = models.spec_to_dict(spec)
    assert data["layers"][1] == {"type": "SharedConv", "cin": 4, "cout": 4, "repeats": [3, 3]}
    assert models.spec_from_dict(data) == spec
    assert models.describe_spec(spec) == "C4-SharedConv4-P-H"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"layers": [{"type": "Nope"}]}, "unknown layer type 'Nope'"),
        (
            {"layers": [{"type": "Conv", "cin": 1, "cout": 2, "kernel": 3}]},
            "unknown field(s) kernel",
        ),
        ({"layers": [{"type": "Conv"}]}, "layer Conv"),
        ({"layers": [], "width": 2}, "unknown network option(s) width"),
        ({"blocks": []}, "not a network spec"),
    ],
)
def test_spec_from_dict_names_the_problem(data, message):
    from mnistlite.errors import MnistliteError

    with pytest.raises(MnistliteError) as info:
        models.spec_from_dict(data)
    assert message in str(info.value)
