"""README's worker example, run as a script as a user would paste it: with and without the guard."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_workers_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    (example,) = [b for b in blocks if "workers=2" in b]
    return example


def _run(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "example.py"
    path.write_text(script)
    env = {**os.environ, "LSWAG_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_readme_workers_example_runs_as_a_script(tmp_path: Path) -> None:
    run = _run(_readme_workers_example(), tmp_path)
    assert run.returncode == 0, run.stderr
    printed = eval(run.stdout.strip().splitlines()[-1])  # the list of 8 rounded scores
    assert len(printed) == 8 and all(isinstance(v, int) for v in printed)


def test_without_the_guard_the_pool_stops_with_one_error_naming_it(tmp_path: Path) -> None:
    example = _readme_workers_example()
    head, body = example.split('if __name__ == "__main__":', 1)
    body = body.split("\n", 1)[1]  # the guarded lines, without the guard's own line
    run = _run(head + textwrap.dedent(body), tmp_path)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("lswag_plugin.errors.WorkerStartFailed:")
    assert 'if __name__ == "__main__":' in last
