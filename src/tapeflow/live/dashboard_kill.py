"""The dashboard's kill button, on the node's side: the token first, then the control socket's path to the switch.

A kill from the page goes where ``tapeflow kill`` goes (``tapeflow.live.control``): an ``OperatorCommand`` into
the node's inbox (so the audit trail has it before its effect), then ``SetKillSwitch(engaged=True,
source="dashboard#N")``, answered by the ``ControlDesk`` once the risk engine has engaged the switch and sent its
cancels, with the number of orders cancelled and whether the state was persisted. The node never learns a request
came from a browser other than through ``origin`` and ``source``.

Without the node's token, or with a wrong one (compared in constant time), the request changes nothing: it is
refused, counted (``refused``), logged, and recorded as a refused ``OperatorCommand``, as a refused control socket
request is. The token travels in the ``Authorization`` header, never in a URL: query strings end up in logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable

from tapeflow.engine.inbox import InboxLike
from tapeflow.live.control_desk import ControlDesk, Reply
from tapeflow.model.errors import ConfigError
from tapeflow.model.risk_events import OperatorCommand, SetKillSwitch

log = logging.getLogger(__name__)

MIN_TOKEN = 16
"""Characters of a token at least: anyone on this machine can reach 127.0.0.1."""
MAX_REASON = 500
MAX_BODY = 4096
"""Bytes of a kill request's body at most."""


class KillLever:
    """Engages the node's kill switch for a caller holding ``token``; call on the node's event loop."""

    def __init__(
        self,
        *,
        token: str,
        inbox: InboxLike,
        desk: ControlDesk,
        now: Callable[[], int],
        answer_s: float = 5.0,
    ) -> None:
        if len(token) < MIN_TOKEN:
            raise ConfigError(
                f"the dashboard's token must have at least {MIN_TOKEN} characters (anyone on this machine can "
                "reach 127.0.0.1)",
                field="dashboard.token",
            )
        self._token = token.encode()
        self.inbox = inbox
        self.desk = desk
        self.now = now
        self.answer_s = answer_s
        self.refused = 0
        """Kill requests refused for a missing or wrong token."""
        self.malformed = 0
        """Kill requests with the token but a body that is not ``{"reason": "..."}``."""
        self.kills = 0
        self._seq = 0

    def authorized(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    def refuse(self, origin: str, why: str) -> None:
        """A request without the token: counted, logged, recorded; nothing else happens."""
        self.refused += 1
        log.warning("dashboard: kill refused from %s: %s", origin, why)
        self._record(origin, False, why)

    def reject(self, origin: str, why: str) -> None:
        """A request with the token whose body cannot be read: counted and recorded, the switch untouched."""
        self.malformed += 1
        log.warning("dashboard: malformed kill request from %s: %s", origin, why)
        self._record(origin, False, why)

    async def kill(self, reason: str, origin: str) -> Reply:
        """Engage the switch and wait (at most ``answer_s``) for the node to say it did; the desk's answer."""
        self._seq += 1
        self.kills += 1
        source = f"dashboard#{self._seq}"
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[Reply] = loop.create_future()

        def settle(reply: Reply) -> None:  # the desk calls this on the kernel's thread: the loop's, for a live node
            def complete() -> None:
                if not answered.done():
                    answered.set_result(reply)

            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(complete)

        self.desk.expect_kill(source, settle)
        self._record(origin, True, f"{reason} [{source}]")
        now = self.now()
        why = reason or f"kill from the dashboard ({origin})"
        self.inbox.put(SetKillSwitch(ts_event=now, ts_init=now, engaged=True, reason=why, source=source))
        try:
            reply = await asyncio.wait_for(asyncio.shield(answered), self.answer_s)
        except TimeoutError:
            self.desk.forget(source)
            return {"ok": False, "code": "timeout", "error": f"the node did not handle the kill in {self.answer_s:g} s"}
        return {**reply, "request": source}

    def _record(self, origin: str, accepted: bool, detail: str) -> None:
        now = self.now()
        self.inbox.put(
            OperatorCommand(
                ts_event=now, ts_init=now, command="kill", origin=origin, accepted=accepted, detail=detail[:200]
            )
        )


async def read_body(chunks: AsyncIterator[bytes]) -> bytes | None:
    """A request's body, or None when it is longer than ``MAX_BODY`` (not read further)."""
    body = b""
    async for chunk in chunks:
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return body


def kill_reason(body: bytes | None) -> tuple[str, str]:
    """(the kill's reason, "") from ``{"reason": "..."}`` (an empty body: no reason), or ("", why it cannot be read)."""
    if body is None:
        return "", f"the body is over {MAX_BODY} bytes"
    if not body.strip():
        return "", ""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return "", "the body is not JSON"
    if not isinstance(request, dict):
        return "", 'the body must be a JSON object, e.g. {"reason": "..."}'
    reason = request.get("reason", "")
    if not isinstance(reason, str):
        return "", "reason must be a string"
    if len(reason) > MAX_REASON:
        return "", f"reason is at most {MAX_REASON} characters"
    return reason, ""
