"""Compare search strategies × evaluators (zero-cost proxies and the trained-accuracy oracle) on a table.

One pipeline, two modes: with a budget of distinct *evaluations* (``mode="evaluations"``) every
(strategy, evaluator, seed) run spends the same budget, and the architecture with the best fitness so
far is looked up in the table after each evaluation (best-found accuracy); with a budget of *trainings*
(``mode="trainings"``) only trained evaluations count: training-only strategies against hybrids,
where a zero-cost score decides what is trained. Strategies come from the registry of
:mod:`lswag_plugin.search` (this package registers Optuna's and NNI's: :class:`OptunaSearch`,
:class:`OptunaHybrid`, :class:`NNIEvolution`, :class:`NNIScreenedEvolution`). :class:`Comparison`
does all that ``lswag compare`` does (table, pool, evaluators by name, workers, report).
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

from lswag_plugin.compare._comparison import (
    COLUMN,
    DEFAULT_EVALUATORS,
    ORACLE,
    Comparison,
    column_evaluators,
    default_strategies,
    pool_space,
    table_column,
)
from lswag_plugin.compare._evaluators import CompareError, TableOracle, ZeroCostGrid
from lswag_plugin.compare._nni import NNIEvolution, NNIScreenedEvolution
from lswag_plugin.compare._optuna import OptunaHybrid, OptunaSearch, optuna_sampler
from lswag_plugin.compare._report import (
    at_trainings,
    describe_run,
    plot_regret,
    plot_runs,
    run_name,
    summary,
    write_markdown,
)
from lswag_plugin.compare._run import (
    EVALUATIONS,
    MODES,
    NO_PROXY,
    TRAININGS,
    check_strategies,
    load_runs,
    run_grid,
    run_one,
)

__all__ = [
    "COLUMN",
    "DEFAULT_EVALUATORS",
    "EVALUATIONS",
    "MODES",
    "NO_PROXY",
    "ORACLE",
    "TRAININGS",
    "CompareError",
    "Comparison",
    "NNIEvolution",
    "NNIScreenedEvolution",
    "OptunaHybrid",
    "OptunaSearch",
    "TableOracle",
    "ZeroCostGrid",
    "at_trainings",
    "check_strategies",
    "column_evaluators",
    "default_strategies",
    "describe_run",
    "load_runs",
    "optuna_sampler",
    "plot_regret",
    "plot_runs",
    "pool_space",
    "run_grid",
    "run_name",
    "run_one",
    "summary",
    "table_column",
    "write_markdown",
]
