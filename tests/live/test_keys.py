"""Keys come from the environment or an owner-only file; a paper run without keys uses a placeholder pair."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tapeflow.live.keys import ENV_KEY, ENV_SECRET, PAPER_KEYS, load_keys
from tapeflow.model.errors import ConfigError


def _file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "alpaca.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_environment_keys_are_used_and_the_secret_never_appears_in_the_repr() -> None:
    keys = load_keys("alpaca-paper", None, environ={ENV_KEY: "PKABCDEF", ENV_SECRET: "very-secret"})
    assert (keys.key_id, keys.secret_key, keys.source) == ("PKABCDEF", "very-secret", "environment")
    assert "very-secret" not in repr(keys)
    assert "PKABCDEF" not in repr(keys)


def test_a_keys_file_wins_over_the_environment(tmp_path: Path) -> None:
    path = _file(tmp_path, 'key_id = "PKFILE"\nsecret_key = "SKFILE"\n')
    keys = load_keys("alpaca-live", path, environ={ENV_KEY: "PKENV", ENV_SECRET: "SKENV"})
    assert (keys.key_id, keys.secret_key, keys.source) == ("PKFILE", "SKFILE", str(path))


def test_paper_without_keys_uses_the_placeholder_pair_and_alpaca_without_keys_is_refused() -> None:
    keys = load_keys("paper", None, environ={})
    assert (keys.key_id, keys.secret_key) == PAPER_KEYS
    with pytest.raises(ConfigError, match="needs API keys"):
        load_keys("alpaca-paper", None, environ={})


def test_half_a_key_pair_in_the_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match=f"{ENV_SECRET} is not set"):
        load_keys("paper", None, environ={ENV_KEY: "PK"})


@pytest.mark.parametrize(
    ("text", "mode", "words"),
    [
        ('key_id = "PK"\nsecret_key = "SK"\n', 0o644, "chmod 600"),
        ('key_id = "PK"\n', 0o600, "not `key_id"),
        ("garbage = [", 0o600, "not `key_id"),
        ('key_id = " "\nsecret_key = "SK"\n', 0o600, "empty"),
    ],
)
def test_an_unsafe_or_malformed_keys_file_is_refused(tmp_path: Path, text: str, mode: int, words: str) -> None:
    path = _file(tmp_path, text, mode)
    with pytest.raises(ConfigError, match=words) as err:
        load_keys("alpaca-paper", path, environ={})
    assert err.value.field == "live.keys_file"


def test_a_missing_keys_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the keys file"):
        load_keys("paper", tmp_path / "nope.toml", environ={})
