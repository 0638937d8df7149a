import pytest

import lswag_plugin
from lswag_plugin.errors import UnknownProxy
from lswag_plugin.proxies import Needs, available, get_proxy, resolve_names

SUITE = {
    "synflow": "max",
    "snip": "max",
    "grasp": "max",
    "fisher": "max",
    "grad_norm": "max",
    "jacov": "max",
    "epe_nas": "max",
    "l2_norm": "max",
    "plain": "max",
    "zen": "max",
    "meco": "max",
    "lswag": "max",
    "swap": "max",
    "swap_reg": "max",
    "zico": "max",
    "nwot": "max",
    "params": "max",
    "flops": "max",
}


def test_available_lists_every_proxy_with_direction_and_needs():
    specs = {s.name: s for s in available()}
    for name, direction in SUITE.items():
        assert specs[name].direction == direction
        assert isinstance(specs[name].needs, Needs)
        assert specs[name].description  # first docstring line
    assert [s.name for s in available()] == sorted(specs)


def test_special_passes_only_where_declared():
    special = {s.name for s in available() if s.needs & Needs.SPECIAL_PASS}
    assert special & set(SUITE) == {"synflow", "zen"}


def test_all_expands_to_every_proxy_but_libra():
    names = resolve_names("all")
    assert set(SUITE) <= set(names)
    assert "libra" not in names


def test_aliases_resolve():
    assert get_proxy("zen_nas").name == "zen"
    assert get_proxy("jacob_cov").name == "jacov"


def test_unknown_proxy_lists_known_ones():
    with pytest.raises(UnknownProxy) as err:
        lswag_plugin.score(None, None, "no_such_proxy")
    assert "no_such_proxy" in str(err.value)
    assert "synflow" in str(err.value) and "lswag" in str(err.value)
