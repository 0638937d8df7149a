from __future__ import annotations

import contextlib

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


# --- NAS-Bench-101, DARTS, PiT -----------------------------------------------------------------

NB101_UPPER = [(i, j) for i in range(7) for j in range(i + 1, 7)]


def nb101_params(edges: set[tuple[int, int]], ops: list[str]) -> dict[str, object]:
    params: dict[str, object] = {f"edge_{i}_{j}": int((i, j) in edges) for i, j in NB101_UPPER}
    return params | {f"op_{k}": op for k, op in enumerate(ops, start=1)}


def test_nb101_fixed_trial_round_trip() -> None:
    from lswag_plugin.spaces.nb101 import OPS as NB101_OPS

    conv3, conv1, pool = NB101_OPS
    # 0→1→3→6, 0→2→6, 4 reads 1 but feeds nothing, 5 is isolated: both are pruned
    edges = {(0, 1), (1, 3), (3, 6), (0, 2), (2, 6), (1, 4)}
    arch = suggest_architecture(
        optuna.trial.FixedTrial(nb101_params(edges, [conv3, pool, conv1, conv3, pool])), "nb101"
    )
    expected = {
        "matrix": [
            [0, 1, 1, 0, 0],
            [0, 0, 0, 1, 0],
            [0, 0, 0, 0, 1],
            [0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0],
        ],
        "ops": ["input", conv3, pool, conv1, "output"],
    }
    space = get_space("nb101")
    assert arch == expected
    assert space.encode(arch) == space.encode(expected)
    assert space.decode(space.encode(arch)) == expected
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    with contextlib.suppress(optuna.TrialPruned):
        suggest_architecture(trial, space, prefix="a_")
    assert list(trial.params) == [
        *(f"a_edge_{i}_{j}" for i, j in NB101_UPPER),
        *(f"a_op_{k}" for k in range(1, 6)),
    ]
    assert all(trial.distributions[f"a_edge_{i}_{j}"].choices == (0, 1) for i, j in NB101_UPPER)
    assert trial.distributions["a_op_3"].choices == NB101_OPS


@pytest.mark.parametrize(
    ("edges", "reason"),
    [
        ({(0, 1), (2, 6)}, "no path from the input to the output"),
        ({(i, j) for i, j in NB101_UPPER if j - i <= 2}, "11 edges on input→output paths"),
    ],
)
def test_nb101_invalid_draw_is_pruned(edges, reason) -> None:
    params = nb101_params(edges, ["conv3x3-bn-relu"] * 5)
    trial = optuna.trial.FixedTrial(params)
    with pytest.raises(optuna.TrialPruned, match=reason):
        suggest_architecture(trial, "nb101")
    assert reason in trial.user_attrs["prune_reason"]
    # in a study: the trial is PRUNED, the study goes on
    space = get_space("nb101", stem_channels=8, stacks=1, cells_per_stack=1)
    build = space_builder(space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(params)
    study.enqueue_trial(nb101_params({(0, 1), (1, 6)}, ["maxpool3x3"] * 5))
    study.optimize(lambda t: float(sum(p.numel() for p in build(t).parameters())), n_trials=2)
    first, second = study.trials
    assert first.state == optuna.trial.TrialState.PRUNED
    assert reason in first.user_attrs["prune_reason"] and "arch" not in first.user_attrs
    assert second.state == optuna.trial.TrialState.COMPLETE
    assert space.decode(second.user_attrs["arch"])["ops"] == ["input", "maxpool3x3", "output"]


def _short_study(space, n_trials: int = 5) -> optuna.Study:
    """Five trials of ``space_builder(space)``: each model built, its #params as the value."""
    build = space_builder(space, num_classes=3)

    def objective(trial: optuna.Trial) -> float:
        model = build(trial)
        arch = space.decode(trial.user_attrs["arch"])
        assert trial.user_attrs["arch"] == space.encode(arch)
        n = sum(p.numel() for p in model.parameters())
        assert n == space.num_params(arch, num_classes=3)
        return float(n)

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n_trials)
    return study


def test_nb101_builder_in_a_study() -> None:
    space = get_space("nb101", stem_channels=8, stacks=1, cells_per_stack=1)
    study = _short_study(space)
    states = [t.state for t in study.trials]
    assert len(states) == 5 and set(states) <= {
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
    }
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 1
    for t in study.trials:
        assert ("arch" in t.user_attrs) == (t.state == optuna.trial.TrialState.COMPLETE)


def darts_params(arch: dict, prefix: str = "") -> dict[str, object]:
    """The parameters that suggest ``arch``, a DARTS genotype."""
    params: dict[str, object] = {}
    for kind, pairs in arch.items():
        for node in range(2, 6):
            (op0, in0), (op1, in1) = pairs[2 * (node - 2) : 2 * (node - 2) + 2]
            name = f"{prefix}{kind}_node{node}"
            params |= {f"{name}_in0": in0, f"{name}_op0": op0}
            params |= {f"{name}_in1_not{in0}": in1, f"{name}_op1": op1}
    return params


def test_darts_fixed_trial_round_trip() -> None:
    from lswag_plugin.spaces.darts import DARTS_V2
    from lswag_plugin.spaces.darts import OPS as DARTS_OPS

    space = get_space("darts")
    params = darts_params(DARTS_V2)
    assert params["normal_node5_in0"] == 0 and params["normal_node5_in1_not0"] == 2
    assert len(params) == 2 * 4 * 4
    arch = suggest_architecture(optuna.trial.FixedTrial(params), space)
    assert arch == DARTS_V2
    assert space.encode(arch) == space.encode(DARTS_V2)
    assert suggest_architecture(
        optuna.trial.FixedTrial(darts_params(DARTS_V2, "c_")), "darts-eval", prefix="c_"
    ) == space.validate(DARTS_V2)
    # inputs read only earlier nodes, and the second one is never the first
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        arch = suggest_architecture(trial, space)
        assert space.validate(arch) == arch
        dist = trial.distributions
        for node in range(2, 6):
            first = trial.params[f"reduce_node{node}_in0"]
            assert dist[f"reduce_node{node}_in0"].choices == tuple(range(node))
            assert dist[f"reduce_node{node}_in1_not{first}"].choices == tuple(
                s for s in range(node) if s != first
            )
            assert dist[f"normal_node{node}_op1"].choices == DARTS_OPS
        study.tell(trial, 0.0)


def test_darts_builder_in_a_study() -> None:
    space = get_space("darts", channels=2, cells=3)
    study = _short_study(space)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 5
    assert len({t.user_attrs["arch"] for t in study.trials}) == 5


def test_pit_fixed_trial_round_trip() -> None:
    from lswag_plugin.spaces.pit import REFERENCE_ARCHS

    params = {"base_dim": 32, "mlp_ratio": 4, "depth_0": 2, "depth_1": 6, "depth_2": 4}
    params["num_heads"] = "2-4-8"
    space = get_space("pit", resolution=32)
    arch = suggest_architecture(optuna.trial.FixedTrial(params), space)
    assert arch == REFERENCE_ARCHS["pit_ti"]
    assert space.encode(arch) == space.encode(REFERENCE_ARCHS["pit_ti"])
    study = optuna.create_study()
    trial = study.ask()
    suggest_architecture(trial, space)
    names = ["base_dim", "mlp_ratio", "depth_0", "depth_1", "depth_2", "num_heads"]
    assert list(trial.params) == names
    triples = trial.distributions["num_heads"].choices
    assert len(triples) == 10 and triples[0] == "2-2-2" and "4-2-8" not in triples
    assert trial.distributions["depth_1"].choices == (4, 6, 8)
    with pytest.raises(ValueError, match="not in"):  # a decreasing triple is not a choice
        suggest_architecture(optuna.trial.FixedTrial({**params, "num_heads": "4-2-8"}), space)


def test_pit_builder_in_a_study() -> None:
    study = _short_study(get_space("pit", resolution=16))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 5
