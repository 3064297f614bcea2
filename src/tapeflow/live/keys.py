"""API keys for a live run: from the environment or from a file only its owner can read, never from a configuration.

A configuration is copied, committed and pasted into bug reports; a key in it is a key published. Alpaca's own
tools read ``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY``, so those are read here too. A keys file is a small TOML
file (``key_id = "..."``, ``secret_key = "..."``); like ssh with a private key, a file that others can read is
refused, because by then the secret may already be out.

The local paper venue accepts any non-empty pair unless it was started with ``--key``/``--secret``; without keys a
paper run uses ``PAPER_KEYS``, which it never sends anywhere but the paper venue's address.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import msgspec

from tapeflow.model.errors import ConfigError

ENV_KEY: Final = "APCA_API_KEY_ID"
ENV_SECRET: Final = "APCA_API_SECRET_KEY"
PAPER_KEYS: Final = ("tapeflow-paper", "tapeflow-paper")


class Keys(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    secret_key: str
    source: str
    """Where they came from (the environment or the file's path), for the start-up line; never the secret."""

    def __repr__(self) -> str:  # a traceback or a log line must not print the secret
        return f"Keys(key_id={self.key_id[:4]}..., source={self.source})"


class _KeysFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    key_id: str
    secret_key: str


def load_keys(venue: str, keys_file: str | Path | None, *, environ: Mapping[str, str] | None = None) -> Keys:
    """The keys for ``venue``: the keys file when one is named, else the environment, else (paper only) a
    placeholder pair. One clear ``ConfigError`` when an Alpaca venue has none, or a file is unsafe or malformed."""
    env = os.environ if environ is None else environ
    if keys_file is not None:
        return _from_file(Path(keys_file))
    key, secret = env.get(ENV_KEY, "").strip(), env.get(ENV_SECRET, "").strip()
    if key and secret:
        return Keys(key_id=key, secret_key=secret, source="environment")
    if key or secret:
        missing = ENV_SECRET if key else ENV_KEY
        raise ConfigError(f"{missing} is not set while the other key is: set both, or neither", field="live.keys")
    if venue == "paper":
        return Keys(key_id=PAPER_KEYS[0], secret_key=PAPER_KEYS[1], source="paper default")
    raise ConfigError(
        f"{venue} needs API keys: set {ENV_KEY} and {ENV_SECRET}, or name a file with `keys_file` in [live]",
        field="live.keys_file",
    )


def _from_file(path: Path) -> Keys:
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot read the keys file ({exc.strerror})", path=path, field="live.keys_file") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError("the keys file is not a regular file", path=path, field="live.keys_file")
    if info.st_mode & 0o077:
        raise ConfigError(
            f"the keys file can be read by others (mode {stat.S_IMODE(info.st_mode):o}); run `chmod 600 {path}` "
            "and consider the keys exposed",
            path=path,
            field="live.keys_file",
        )
    try:
        keys = msgspec.toml.decode(path.read_bytes(), type=_KeysFile)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(
            f'the keys file is not `key_id = "..."` and `secret_key = "..."` ({detail})',
            path=path,
            field="live.keys_file",
        ) from exc
    if not keys.key_id.strip() or not keys.secret_key.strip():
        raise ConfigError("the keys file has an empty key_id or secret_key", path=path, field="live.keys_file")
    return Keys(key_id=keys.key_id.strip(), secret_key=keys.secret_key.strip(), source=str(path))
