"""Compare search strategies × evaluators (zero-cost proxies and the trained-accuracy oracle) on a table.

Every (strategy, evaluator, seed) run spends the same budget of distinct evaluations; the architecture
with the best fitness so far is looked up in the table after each evaluation (best-found accuracy).
With a budget of *trainings* (:func:`run_trained`, :func:`run_trainings_grid`) only trained evaluations
count: training-only strategies against hybrids, where a zero-cost score decides what is trained
(:data:`HYBRID_RUNNERS`; the Optuna and NNI hybrids :class:`OptunaHybrid` and
:class:`NNIScreenedEvolution` are usable on their own).
Zero-cost scores go through the :class:`~lswag_plugin.cache.ScoreCache` and finished runs are stored as
JSON lines, so an interrupted comparison resumes without recomputing anything.

Example:
    >>> from lswag_plugin.compare import TableOracle, run_one
    >>> from lswag_plugin.spaces import get_space
    >>> space = get_space("nb201")
    >>> accuracy = {a: float(a.count("nor_conv_3x3")) for a in space.all_archs()}
    >>> record = run_one("evolution", space, TableOracle(space, accuracy), accuracy, budget=200, seed=0)
    >>> record["evaluations"], record["best_acc"][-1]
    (200, 6.0)
"""

from lswag_plugin.compare._evaluators import CompareError, TableOracle, ZeroCostGrid
from lswag_plugin.compare._hybrids import NNIScreenedEvolution, OptunaHybrid
from lswag_plugin.compare._report import (
    at_trainings,
    plot_regret,
    plot_runs,
    run_name,
    summary,
    summary_trainings,
    write_markdown,
    write_trainings_markdown,
)
from lswag_plugin.compare._run import (
    NO_PROXY,
    load_runs,
    run_grid,
    run_one,
    run_trained,
    run_trainings_grid,
)
from lswag_plugin.compare._strategies import (
    HYBRID_DEFAULTS,
    HYBRID_RUNNERS,
    RUNNERS,
    hybrid_strategy,
)

__all__ = [
    "HYBRID_DEFAULTS",
    "HYBRID_RUNNERS",
    "NO_PROXY",
    "RUNNERS",
    "CompareError",
    "NNIScreenedEvolution",
    "OptunaHybrid",
    "TableOracle",
    "ZeroCostGrid",
    "at_trainings",
    "hybrid_strategy",
    "load_runs",
    "plot_regret",
    "plot_runs",
    "run_grid",
    "run_name",
    "run_one",
    "run_trained",
    "run_trainings_grid",
    "summary",
    "summary_trainings",
    "write_markdown",
    "write_trainings_markdown",
]
