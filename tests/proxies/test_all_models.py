"""Every proxy on a CNN and a ViT; the caller's model untouched by ``"all"``; determinism."""

import math

import pytest
import torch

import lswag_plugin
from lswag_plugin.proxies import resolve_names
from tests.proxies._nets import tiny_cnn, tiny_vit

MODELS = {"cnn": tiny_cnn, "vit": tiny_vit}


@pytest.fixture(scope="module")
def batch():
    from lswag_plugin.data import default_batch

    return default_batch(16, resolution=32, seed=0)


@pytest.fixture(scope="module", params=sorted(MODELS))
def scored(request, batch):
    model = MODELS[request.param]()
    return request.param, model, lswag_plugin.score(model, batch, "all", device="cpu")


def test_every_proxy_is_finite_on_cnn_and_vit(scored):
    name, _, s = scored
    assert set(s) == set(resolve_names("all"))
    bad = {p: v for p, v in s.items() if not math.isfinite(v)}
    assert not bad, f"{name}: non-finite scores {bad}"
    assert s.passes == [
        "forward+backward x2",
        "forward+double backward x2",
        "data-free forward + block probes (Gaussian input, Kaiming init)",
        "special:synflow",
        "special:zen",
    ]


def test_all_leaves_the_callers_model_untouched(batch):
    for make in MODELS.values():
        model = make()
        model.eval()
        first = next(model.parameters())
        first.requires_grad_(False)
        second = list(model.parameters())[1]
        second.grad = torch.full_like(second, 0.25)
        calls = []
        handle = model.register_forward_hook(lambda *a, calls=calls: calls.append(1))
        fused = [m.fused_attn for m in model.modules() if hasattr(m, "fused_attn")]
        before = {k: v.clone() for k, v in model.state_dict().items()}
        lswag_plugin.score(model, batch, "all", device="cpu")
        after = model.state_dict()
        assert before.keys() == after.keys()
        for k, v in before.items():
            assert torch.equal(v, after[k]), k  # bit-identical weights and buffers
        assert not model.training and not any(m.training for m in model.modules())
        assert not first.requires_grad
        assert all(p.requires_grad for p in list(model.parameters())[1:])
        assert torch.equal(second.grad, torch.full_like(second, 0.25))
        assert all(p.grad is None for p in list(model.parameters())[2:])
        assert calls == []  # our passes ran on a private copy
        assert [m.fused_attn for m in model.modules() if hasattr(m, "fused_attn")] == fused
        assert len(model._forward_hooks) == 1
        assert all(not m._forward_hooks for m in model.modules() if m is not model)
        assert all(not m._forward_pre_hooks for m in model.modules())
        handle.remove()


def test_same_seed_gives_identical_scores(scored, batch):
    _, model, s = scored
    again = lswag_plugin.score(model, batch, "all", device="cpu")
    assert dict(again) == dict(s)


def test_seed_changes_only_the_random_proxies(batch):
    model = tiny_cnn()
    a = lswag_plugin.score(model, batch, "zen,synflow,l2_norm", device="cpu", seed=0)
    b = lswag_plugin.score(model, batch, "zen,synflow,l2_norm", device="cpu", seed=1)
    assert a["zen"] != b["zen"]  # Gaussian inputs and weights
    assert a["synflow"] == b["synflow"] and a["l2_norm"] == b["l2_norm"]
