from __future__ import annotations

import numpy as np
import optuna
import pytest

from lswag_plugin.errors import BadArchitecture
from lswag_plugin.optuna import space_builder, suggest_architecture, timm_builder
from lswag_plugin.spaces import available_spaces, get_space
from lswag_plugin.spaces.nb201 import EDGES, OPS

NB201_ARCH = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
NB201_PARAMS = {
    "edge_1_0": "nor_conv_3x3",
    "edge_2_0": "none",
    "edge_2_1": "skip_connect",
    "edge_3_0": "avg_pool_3x3",
    "edge_3_1": "none",
    "edge_3_2": "nor_conv_1x1",
}


def test_nb201_parameters_and_string() -> None:
    assert suggest_architecture(optuna.trial.FixedTrial(NB201_PARAMS), "nb201") == NB201_ARCH
    fixed = optuna.trial.FixedTrial({f"a_{k}": v for k, v in NB201_PARAMS.items()})
    assert suggest_architecture(fixed, get_space("nb201"), prefix="a_") == NB201_ARCH
    study = optuna.create_study()
    trial = study.ask()
    suggest_architecture(trial, "nb201")
    assert list(trial.params) == [f"edge_{i}_{j}" for i, j in EDGES]
    assert all(d.choices == OPS for d in trial.distributions.values())


def test_nb201_builder_in_a_study() -> None:
    space = get_space("nb201", channels=4, cells_per_stage=1)
    build = space_builder(space, num_classes=10)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        trial = study.ask()
        model = build(trial)
        arch = trial.user_attrs["arch"]
        assert arch == space.validate(arch)
        assert sum(p.numel() for p in model.parameters()) == space.num_params(arch)
        study.tell(trial, 0.0)


@pytest.mark.skipif("autoformer-t" not in available_spaces(), reason="no AutoFormer space")
def test_autoformer_parameters_are_conditional_on_depth() -> None:
    space = get_space("autoformer-t")
    params = {"depth": 12, "embed_dim": 216}
    params |= {f"mlp_ratio_{i}": 3.5 + 0.5 * (i % 2) for i in range(12)}
    params |= {f"num_heads_{i}": 3 + (i % 2) for i in range(12)}
    arch = suggest_architecture(optuna.trial.FixedTrial(params), space)
    assert arch == {
        "embed_dim": 216,
        "depth": 12,
        "mlp_ratio": [3.5, 4.0] * 6,
        "num_heads": [3, 4] * 6,
    }
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(4):
        trial = study.ask()
        arch = suggest_architecture(trial, space)
        assert len(trial.params) == 2 + 2 * arch["depth"]
        assert arch["embed_dim"] in space.choices.embed_dim
        assert set(arch["num_heads"]) <= set(space.choices.num_heads)
        study.tell(trial, 0.0)


def test_space_without_mapping() -> None:
    from lswag_plugin.spaces import SearchSpace

    class Toy(SearchSpace):
        name = "toy"

        def sample(self, rng: np.random.Generator):
            return 0

        def build(self, arch, *, num_classes=10, resolution=None):
            raise NotImplementedError

        def mutate(self, arch, rng, *, prob=0.2):
            return arch

        def crossover(self, a, b, rng):
            return a

    with pytest.raises(BadArchitecture, match="no Optuna mapping"):
        suggest_architecture(optuna.trial.FixedTrial({}), Toy())


def test_timm_builder() -> None:
    build = timm_builder(
        ["vit_tiny_patch16_224", "vit_small_patch16_224"],
        choices={"depth": [1, 2], "mlp_ratio": [2.0, 4.0]},
        fixed={"img_size": 32, "patch_size": 8, "embed_dim": 48, "num_heads": 2},
        num_classes=5,
        fused_attention=False,
    )
    trial = optuna.trial.FixedTrial(
        {"model": "vit_small_patch16_224", "depth": 2, "mlp_ratio": 2.0}
    )
    model = build(trial)
    assert len(model.blocks) == 2 and model.head.out_features == 5
    assert model.blocks[0].mlp.fc1.out_features == 96
    assert model.blocks[0].attn.fused_attn is False
    study = optuna.create_study()
    trial = study.ask()
    build(trial)
    assert set(trial.params) == {"model", "depth", "mlp_ratio"}


def test_timm_builder_arguments_are_validated() -> None:
    with pytest.raises(BadArchitecture, match="no_such_model"):
        timm_builder("no_such_model")
    with pytest.raises(ValueError, match="empty"):
        timm_builder([])
    with pytest.raises(ValueError, match="both fixed and searched"):
        timm_builder("vit_tiny_patch16_224", choices={"depth": [1]}, fixed={"depth": 2})
    with pytest.raises(ValueError, match="empty"):
        timm_builder("vit_tiny_patch16_224", choices={"depth": []})
