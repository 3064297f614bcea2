"""Who may use the paper venue, and where a client may be pointed.

Every part of the server (REST, the data stream, ``trade_updates``) asks one question, ``check(key, secret)``,
so one callable decides for all of them. Without configured keys any non-empty pair is accepted, as the issue
asks: a local server bound to loopback protects nothing by insisting on a secret, but an empty key is always a
client bug worth refusing.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

from tapeflow.model.errors import ConfigError

Check = Callable[[str, str], bool]

LOOPBACK_CLIENTS: Final = frozenset({"127.0.0.1", "::1"})
"""Client addresses the venue's own routes (stepping, the faults admin) answer: this machine only."""
"""``check(key, secret) -> bool``: whether the pair may use the venue."""


def accept_any(key: str, secret: str) -> bool:
    """Any non-empty pair (the default of a server started without ``--key``)."""
    return bool(key) and bool(secret)


def fixed_keys(key: str, secret: str) -> Check:
    """Exactly this pair; compared in constant time, so a caller cannot learn the secret by timing the answer."""
    if not key or not secret:
        raise ConfigError("an API key and secret must both be non-empty", field="key")
    want_key, want_secret = key.encode(), secret.encode()

    def check(given_key: str, given_secret: str) -> bool:
        ok_key = hmac.compare_digest(given_key.encode(), want_key)
        ok_secret = hmac.compare_digest(given_secret.encode(), want_secret)
        return ok_key and ok_secret

    return check


def require_base_url(url: str, *, field: str = "url") -> str:
    """``url`` when it names a host, else ``ConfigError``.

    alpaca-py treats an empty ``url_override`` as unset and goes to Alpaca's real servers: anything of ours that
    hands a client a base URL refuses an empty or host-less one instead of letting that happen."""
    text = url.strip()
    if not text:
        raise ConfigError("an empty base URL would send an Alpaca client to Alpaca's real servers", field=field)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ConfigError(f"base URL {url!r} needs a scheme and a host, such as http://127.0.0.1:8000", field=field)
    return text
