"""A space registered with ``register_space`` works in Optuna, NNI and compare with no other edit.

The space below (two layer widths, nine architectures) is defined here only: every host finds what it
needs on the space (``suggest``, ``from_nni_sample``, ``nni_model_space``), not in a table of spaces.
"""

from __future__ import annotations

import csv
import json

import optuna
import pytest
from torch import nn

from lswag_plugin.compare import Comparison, TableOracle, run_one
from lswag_plugin.errors import AlreadyRegistered, BadArchitecture
from lswag_plugin.nni import arch_from_sample, sample_from_arch
from lswag_plugin.optuna import ZeroCostObjective, space_builder, suggest_architecture
from lswag_plugin.search import available_strategies
from lswag_plugin.spaces import SearchSpace, get_space, register_space
from lswag_plugin.spaces._base import _SPACES

optuna.logging.set_verbosity(optuna.logging.WARNING)

WIDTHS = (2, 4, 8)


class Widths(SearchSpace):
    """Two convolutions whose widths are chosen from :data:`WIDTHS`: ``{"w1": 4, "w2": 8}``."""

    name = "test-widths"

    def validate(self, arch):
        arch = json.loads(arch) if isinstance(arch, str) else arch
        if sorted(arch) != ["w1", "w2"] or not all(arch[k] in WIDTHS for k in arch):
            raise BadArchitecture(f"not an architecture of {self.name}: {arch!r}")
        return {"w1": int(arch["w1"]), "w2": int(arch["w2"])}

    def sample(self, rng):
        return {k: int(rng.choice(WIDTHS)) for k in ("w1", "w2")}

    def mutate(self, arch, rng, *, prob=0.2):
        child = dict(self.validate(arch))
        key = ("w1", "w2")[int(rng.integers(2))]
        child[key] = int(rng.choice([w for w in WIDTHS if w != child[key]]))
        return child

    def crossover(self, a, b, rng):
        return {k: (a if rng.random() < 0.5 else b)[k] for k in ("w1", "w2")}

    def build(self, arch, *, num_classes=10, resolution=None):
        arch = self.validate(arch)
        return nn.Sequential(
            nn.Conv2d(3, arch["w1"], 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(arch["w1"], arch["w2"], 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(arch["w2"], num_classes),
        )

    def suggest(self, trial, *, prefix=""):
        return {k: trial.suggest_categorical(f"{prefix}{k}", list(WIDTHS)) for k in ("w1", "w2")}

    def from_nni_sample(self, sample):
        return self.validate({k: WIDTHS[sample[k]] for k in ("w1", "w2")})

    def to_nni_sample(self, arch):
        return {k: WIDTHS.index(v) for k, v in self.validate(arch).items()}

    def nni_model_space(self):
        from nni.nas.nn.pytorch import LayerChoice, ModelSpace

        class Choices(ModelSpace):  # samples {"w1": index, "w2": index}; never built here
            def __init__(self):
                super().__init__()
                self.w1 = LayerChoice([nn.Linear(1, w) for w in WIDTHS], label="w1")
                self.w2 = LayerChoice([nn.Linear(1, w) for w in WIDTHS], label="w2")

            def forward(self, x):
                return self.w2(self.w1(x))

        return Choices()


@pytest.fixture
def registered():
    """Registers :class:`Widths` as ``test-widths`` for one test."""
    register_space("test-widths")(Widths)
    yield get_space("test-widths")
    del _SPACES["test-widths"]


def _fitness(arch):
    return float(arch["w1"] + 2 * arch["w2"])


def _all():
    """The nine architectures."""
    return [{"w1": a, "w2": b} for a in WIDTHS for b in WIDTHS]


def test_optuna_suggests_and_scores_it(registered):
    params = {"w1": 4, "w2": 8}
    assert suggest_architecture(optuna.trial.FixedTrial(params), "test-widths") == params
    objective = ZeroCostObjective(space_builder("test-widths"), proxy="params", batch_size=4)
    study = objective.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=3)
    for trial in study.trials:
        arch = registered.decode(trial.user_attrs["arch"])
        assert trial.value == registered.num_params(arch)


def test_nni_converts_its_samples(registered):
    assert arch_from_sample("test-widths", {"w1": 0, "w2": 2}) == {"w1": 2, "w2": 8}
    assert sample_from_arch("test-widths", {"w1": 4, "w2": 2}) == {"w1": 1, "w2": 0}
    with pytest.raises(BadArchitecture, match="no NNI mapping"):
        arch_from_sample("pit", {})  # a space without a conversion says what to write


@pytest.mark.parametrize("strategy", available_strategies(needs_proxy=False))
def test_every_training_only_strategy_searches_it(registered, strategy):
    accuracy = {registered.encode(a): _fitness(a) for a in _all()}
    record = run_one(
        strategy, registered, TableOracle(registered, accuracy), accuracy, budget=5, seed=0
    )
    assert record["evaluations"] == 5
    assert record["best_acc"][-1] == accuracy[record["best_arch"]]


@pytest.mark.parametrize("strategy", available_strategies(needs_proxy=True))
def test_every_hybrid_trains_it(registered, strategy):
    accuracy = {registered.encode(a): _fitness(a) for a in _all()}
    oracle = TableOracle(registered, accuracy)
    options = {"pool": 9} if strategy in ("screen-random", "screen-evolution", "zc-local") else {}
    record = run_one(
        strategy,
        registered,
        oracle,
        accuracy,
        budget=3,
        seed=0,
        mode="trainings",
        screen=oracle,
        options=options,
    )
    assert record["trainings"] == 3


def test_a_comparison_of_it_from_a_table(registered, tmp_path):
    table = tmp_path / "widths.csv"
    with table.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch", "acc"])
        writer.writerows([registered.encode(a), _fitness(a)] for a in _all())
    comparison = Comparison(
        "test-widths",
        table,
        target="acc",
        arch_column="arch",
        out=tmp_path / "out",
        budget=4,
        seeds=[0],
        strategies=["random", "optuna-tpe", "nni-evolution"],
        evaluators=["oracle", "params"],
        config=None,
        cache=None,
    )
    result = comparison.report(comparison.run())
    assert result["runs"] == 6
    assert {(r["strategy"], r["evaluator"]) for r in result["summary"]} == {
        (s, e) for s in ("random", "optuna-tpe", "nni-evolution") for e in ("oracle", "params")
    }


def test_a_duplicate_space_name_raises_unless_override(registered):
    with pytest.raises(AlreadyRegistered, match="'test-widths' is already registered"):
        register_space("test-widths")(Widths)
    with pytest.raises(AlreadyRegistered, match="'nb201' is already registered"):
        register_space("nb201")(Widths)
    assert get_space("nb201").name == "nb201"  # the failed registration changed nothing
    register_space("test-widths", override=True)(Widths)
    assert isinstance(get_space("test-widths"), Widths)
