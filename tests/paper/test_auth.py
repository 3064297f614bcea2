"""Who may use the paper venue, and the refusal of an empty base URL (which would send alpaca-py to Alpaca)."""

from __future__ import annotations

import pytest

from tapeflow.model.errors import ConfigError
from tapeflow.paper.auth import accept_any, fixed_keys, require_base_url


def test_without_configured_keys_any_non_empty_pair_is_accepted() -> None:
    assert accept_any("k", "s")
    assert not accept_any("", "s") and not accept_any("k", "")


def test_configured_keys_accept_only_that_pair() -> None:
    check = fixed_keys("PKTEST", "SKTEST")
    assert check("PKTEST", "SKTEST")
    assert not check("PKTEST", "SKTESX") and not check("PKTESX", "SKTEST") and not check("", "")


def test_configured_keys_must_not_be_empty() -> None:
    with pytest.raises(ConfigError):
        fixed_keys("", "secret")


@pytest.mark.parametrize("url", ["", "   ", "127.0.0.1:8000", "http://", "ftp://127.0.0.1"])
def test_an_empty_or_hostless_base_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        require_base_url(url)


def test_a_loopback_base_url_is_kept() -> None:
    assert require_base_url(" http://127.0.0.1:8000 ") == "http://127.0.0.1:8000"
