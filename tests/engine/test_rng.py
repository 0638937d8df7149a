from __future__ import annotations

import threading

import torch

from lswag_plugin.engine.rng import seeded


def draws(seed: int) -> list[torch.Tensor]:
    with seeded(seed):
        return [torch.rand(4), torch.rand(4)]


def test_restores_the_callers_stream() -> None:
    torch.manual_seed(123)
    reference = torch.rand(3)
    torch.manual_seed(123)
    with seeded(0):
        torch.rand(100)
    assert torch.equal(torch.rand(3), reference)


def test_gives_the_stream_of_manual_seed() -> None:
    torch.manual_seed(7)
    reference = torch.rand(5)
    with seeded(7):
        assert torch.equal(torch.rand(5), reference)


def test_a_cpu_block_leaves_accelerator_generators_alone(monkeypatch) -> None:
    """It restores only the CPU generator, so it must not seed the CUDA ones (manual_seed would)."""
    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append("all"))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda seed: calls.append("one"))
    with seeded(0):
        torch.rand(2)
    with seeded(0, "cpu"):
        torch.rand(2)
    assert calls == []


def test_a_seeded_block_is_not_reseeded_by_another_thread() -> None:
    """Thread B seeds while thread A is between two draws: A must still get its own stream."""
    expected_a, expected_b = draws(0), draws(1)
    first_drawn = threading.Event()
    got: dict[str, list[torch.Tensor]] = {}

    def a() -> None:
        with seeded(0):
            first = torch.rand(4)
            first_drawn.set()
            threading.Event().wait(0.2)  # B tries to seed now
            got["a"] = [first, torch.rand(4)]

    def b() -> None:
        first_drawn.wait()
        got["b"] = draws(1)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(torch.equal(x, y) for x, y in zip(got["a"], expected_a, strict=True))
    assert all(torch.equal(x, y) for x, y in zip(got["b"], expected_b, strict=True))
