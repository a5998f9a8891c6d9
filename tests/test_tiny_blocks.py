"""The blocks for tiny models: a 2-parameter norm, a shared-weight block, strided convs."""

import pytest
import torch
from torch import nn

from mnistlite.blocks import ConvBlock, ScalarBatchNorm2d, SharedSeparableBlock
from mnistlite.models import Conv, DWConv, Head, NetSpec, Pool, Shared, SpecNet
from mnistlite.params import count_parameters


def test_scalar_norm_has_two_parameters_and_normalises_per_channel():
    norm = ScalarBatchNorm2d(6)
    assert count_parameters(norm) == 2
    x = torch.randn(64, 6, 5, 5) * torch.arange(1, 7).view(1, 6, 1, 1) + 3
    with torch.no_grad():
        norm.weight.fill_(2.0)
        norm.bias.fill_(0.5)
    y = norm(x)
    per_channel = y.transpose(0, 1).reshape(6, -1)
    assert torch.allclose(per_channel.mean(1), torch.full((6,), 0.5), atol=1e-4)
    assert torch.allclose(per_channel.std(1, unbiased=False), torch.full((6,), 2.0), atol=1e-3)
    norm.eval()  # running statistics are used in eval mode, as in BatchNorm2d
    assert not torch.allclose(norm(x), y)


def test_scalar_norm_is_batchnorm_then_the_shared_affine():
    """The fused forward computes BatchNorm2d(affine=False), then weight * x + bias."""
    torch.manual_seed(0)
    norm, plain = ScalarBatchNorm2d(6), nn.BatchNorm2d(6, affine=False)
    with torch.no_grad():
        norm.weight.fill_(1.7)
        norm.bias.fill_(-0.3)
    reference = ScalarBatchNorm2d(6)  # its weight and bias, applied after the plain norm
    reference.load_state_dict(norm.state_dict())
    for _ in range(3):
        x = torch.randn(16, 6, 5, 5) * 3 + 1
        y = norm(x)
        expected = plain(x) * reference.weight + reference.bias
        assert torch.allclose(y, expected, atol=1e-5)
        y.square().sum().backward()
        expected.square().sum().backward()
    for name in ("weight", "bias"):  # the scalar's gradient sums over every channel
        assert torch.allclose(getattr(norm, name).grad, getattr(reference, name).grad, rtol=1e-4)
    for name, value in plain.state_dict().items():  # running statistics and batch count
        assert torch.allclose(norm.norm.state_dict()[name].double(), value.double(), atol=1e-6)
    assert int(norm.norm.num_batches_tracked) == 3
    norm.eval()
    plain.eval()
    x = torch.randn(4, 6, 5, 5)
    assert torch.allclose(norm(x), plain(x) * 1.7 - 0.3, atol=1e-5)
    assert int(norm.norm.num_batches_tracked) == 3  # evaluation counts no batch
    with pytest.raises(ValueError, match="4D input"):
        norm(torch.randn(6, 5, 5))


def test_shared_block_reuses_one_pair_of_convs():
    one = SharedSeparableBlock(8, 1, norm="scalar")
    four = SharedSeparableBlock(8, 4, norm="scalar")
    assert count_parameters(four) - count_parameters(one) == 3 * 2  # only the norms add
    assert count_parameters(one) == 8 * 9 + 8 * 8 + 2
    x = torch.randn(2, 8, 14, 14)
    assert four(x).shape == x.shape
    four(x).sum().backward()
    assert four.depthwise.weight.grad is not None
    # applying it twice is the same as two steps of the same convolutions
    two = SharedSeparableBlock(8, 2, norm="batch").eval()
    step = lambda t, n: n(torch.relu(two.pointwise(two.depthwise(t))))  # noqa: E731
    assert torch.allclose(two(x), step(step(x, two.norms[0]), two.norms[1]))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SharedSeparableBlock(8, 0), "repeats"),
        (lambda: SharedSeparableBlock(8, 2, 4), "odd"),
        (lambda: SharedSeparableBlock(8, 2, norm="layer"), "norm"),
        (lambda: ConvBlock(1, 8, stride=0), "stride"),
        (lambda: ScalarBatchNorm2d(0), "num_features"),
        (lambda: NetSpec(layers=(Head(1),), norm="group"), "norm"),
    ],
)
def test_bad_arguments_name_themselves(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_specs_build_strided_shared_and_scalar_norm_networks():
    spec = NetSpec(
        layers=(Conv(1, 8, 3, 1, stride=2), Shared(8, 3), Pool(), DWConv(8, 12), Head(12)),
        norm="scalar",
    )
    model = SpecNet(spec)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert not any(isinstance(m, nn.BatchNorm2d) and m.affine for m in model.modules())
    norms = [m for m in model.modules() if isinstance(m, ScalarBatchNorm2d)]
    assert len(norms) == 1 + 3 + 1
    expected = (9 * 8 + 2) + (8 * 9 + 64 + 3 * 2) + (8 * 9 + 8 * 12 + 2) + 12 * 10
    assert count_parameters(model) == expected
    assert model.layers[0][0].stride == (2, 2)


def test_head_without_conv_averages_a_ten_channel_map_into_the_logits():
    from mnistlite.blocks import GAPHead

    head = GAPHead(10, conv=False)
    assert count_parameters(head) == 0
    x = torch.randn(4, 10, 7, 7)
    torch.testing.assert_close(head(x), x.mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="in_channels 12 != num_classes 10"):
        GAPHead(12, conv=False)


def test_spec_without_classifier_builds_counts_and_round_trips():
    from mnistlite.models.spec import describe_spec, spec_from_dict, spec_to_dict

    layers = (Conv(1, 6, 3, 1), Pool(), DWConv(6, 10, pad=1, relu=False, batchnorm=False))
    spec = NetSpec(layers=(*layers, Head(10, conv=False)), norm="scalar")
    with_conv = NetSpec(layers=(*layers, Head(10)), norm="scalar")
    net = SpecNet(spec)
    assert count_parameters(SpecNet(with_conv)) - count_parameters(net) == 10 * 10
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert describe_spec(spec) == "C6-P-D10-G/scalar"
    assert spec_from_dict(spec_to_dict(spec)) == spec
    assert spec_from_dict(spec_to_dict(with_conv)) == with_conv
    with pytest.raises(ValueError, match="one channel per class"):
        SpecNet(NetSpec(layers=(Conv(1, 6, 3, 1), Head(6, conv=False))))
