"""Compare search strategies × evaluators (zero-cost proxies and the trained-accuracy oracle) on a table.

Every (strategy, evaluator, seed) run spends the same budget of distinct evaluations; the architecture
with the best fitness so far is looked up in the table after each evaluation (best-found accuracy).
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
from lswag_plugin.compare._report import plot_runs, summary, write_markdown
from lswag_plugin.compare._run import load_runs, run_grid, run_one
from lswag_plugin.compare._strategies import RUNNERS

__all__ = [
    "RUNNERS",
    "CompareError",
    "TableOracle",
    "ZeroCostGrid",
    "load_runs",
    "plot_runs",
    "run_grid",
    "run_one",
    "summary",
    "write_markdown",
]
