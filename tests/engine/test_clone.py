import torch
from torch import nn

from lswag_plugin.engine.clone import clone_module, is_plain_module_tree
from lswag_plugin.engine.patterns import memory_order_bits


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.b.weight = self.a.weight
        self.bn = nn.BatchNorm1d(4)
        self.sizes = [4, 4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.bn(self.a(x)))


def test_clone_is_independent_keeps_ties_and_drops_hooks():
    net = Tied()
    calls = []
    net.a.register_forward_hook(lambda *args: calls.append(1))
    copy = clone_module(net)
    assert copy.b.weight is copy.a.weight and copy.a.weight is not net.a.weight
    assert not copy.a._forward_hooks and net.a._forward_hooks
    assert copy.sizes == net.sizes and copy.sizes is not net.sizes
    x = torch.randn(8, 4)
    copy.eval(), net.eval()
    assert torch.equal(copy(x), net(x)) and calls == [1]
    copy.train()(x).sum().backward()
    with torch.no_grad():
        copy.a.weight.add_(1.0)
    assert net.training is False and net.a.weight.grad is None
    assert not torch.equal(copy.a.weight, net.a.weight)
    assert torch.equal(net.bn.running_mean, torch.zeros(4))


def test_modules_holding_tensors_in_plain_attributes_are_not_plain():
    net = Tied()
    assert is_plain_module_tree(net)
    net.extra = [torch.zeros(2)]
    assert not is_plain_module_tree(net)
    other = Tied()
    other.shortcut = {"layer": nn.Linear(2, 2)}
    assert not is_plain_module_tree(other)


def test_memory_order_bits_is_a_permutation_of_the_logical_order():
    x = torch.randn(5, 3, 4, 6).contiguous(memory_format=torch.channels_last)
    bits = memory_order_bits(x)
    assert bits.shape == (5, 72)
    logical = (x > 0).reshape(5, -1)
    # Same multiset of per-neuron patterns (columns), read without copying the activation.
    assert sorted(map(tuple, bits.T.tolist())) == sorted(map(tuple, logical.T.tolist()))
    assert torch.equal(memory_order_bits(x.contiguous()), logical)
