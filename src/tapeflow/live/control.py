"""The control socket of a running node: ``tapeflow kill`` reaches the kill switch through it.

A server on the node's event loop, beside the driver, on one of two kinds of socket:

- a unix socket (the default): file mode 0600 from the moment it exists. It is bound inside a fresh private
  directory (mode 0700, ``mkdtemp``) beside the requested path, made 0600, then renamed into place, so nobody can
  connect before its permissions are set and no process-wide umask is touched. A path that exists is refused unless
  it is a stale socket of ours (a socket owned by this user that nobody answers on), which is replaced;
- TCP on 127.0.0.1 with a token (``Control.tcp``): every request carries ``"token"``, compared in constant time;
  a request without it, or with a wrong one, is refused, recorded and the connection closed.

Protocol: one JSON object per line in, one JSON object per line out, lines of at most ``MAX_LINE`` bytes.
Requests: ``{"cmd": "kill", "reason": "...", "flatten": false}``, ``{"cmd": "status"}``, ``{"cmd": "stop",
"reason": "..."}``. Replies carry ``"ok"``; a refusal ``{"ok": false, "error": "...", "code": "..."}`` with
``code`` one of ``malformed``, ``unauthorized``, ``unknown_command``, ``timeout``, ``unavailable``, ``internal``.
A malformed line is answered and counted (``malformed``), never raised: a client cannot crash the node. A line
over the limit is answered and the connection closed (the rest of it cannot be framed).

Every command, and every refusal, is an ``OperatorCommand`` event put into the node's inbox before its effect, so
it is in the audit trail. ``kill`` puts ``SetKillSwitch(engaged=True, source="control#N")`` (and, with
``flatten``, ``FlattenPositions``) and answers once the node has handled it (``ControlDesk``): how many orders
were cancelled, whether the state was persisted, and with ``flatten`` how the flattening ended (or that it is still
under way after ``flatten_wait_s``). ``status`` reads the desk's snapshot between two dispatches (the server runs
on the node's loop, so it never sees a half-handled event). ``stop`` calls ``on_stop``, the same graceful stop as
the first SIGTERM (``tapeflow.live.shutdown``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from tapeflow.engine.inbox import InboxLike
from tapeflow.live.control_desk import ControlDesk, Reply
from tapeflow.model.errors import ConfigError
from tapeflow.model.risk_events import FlattenPositions, OperatorCommand, SetKillSwitch

log = logging.getLogger(__name__)

MAX_LINE = 4096
"""Bytes in one request line at most (a kill's reason included)."""
MAX_REASON = 500
TCP_HOST = "127.0.0.1"
_COMMANDS = ("kill", "status", "stop")


class Control(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the control socket listens: ``unix`` (a path) or ``tcp`` (a port on 127.0.0.1, 0 picks one) with
    ``token``; how long a ``kill`` waits for the node (``answer_s``) and for flattening (``flatten_wait_s``)."""

    unix: str | None = None
    tcp: int | None = None
    token: str = ""
    answer_s: float = 5.0
    flatten_wait_s: float = 10.0

    def check(self) -> None:
        if (self.unix is None) == (self.tcp is None):
            raise ConfigError("the control socket needs exactly one of a unix path or a tcp port", field="control")
        if self.tcp is not None:
            if not 0 <= self.tcp <= 65535:
                raise ConfigError(f"control tcp port {self.tcp} is not a port", field="control.tcp")
            if len(self.token) < 16:
                raise ConfigError(
                    "a tcp control socket needs a token of at least 16 characters (anyone on this machine can "
                    "connect to 127.0.0.1)",
                    field="control.token",
                )


class ControlServer:
    """The control socket of one node. ``start`` on the node's loop, ``close`` after the run.

    ``inbox`` is the node's; ``desk`` its ``ControlDesk`` (added with ``extra=`` and bound); ``on_stop(reason)``
    starts a graceful stop (None: ``stop`` is refused as unavailable); ``now`` stamps the events (the node's wall
    clock); ``snapshot`` answers ``status`` (default: ``desk.snapshot``, kill switch, open orders, positions)."""

    def __init__(
        self,
        config: Control,
        *,
        inbox: InboxLike,
        desk: ControlDesk,
        on_stop: Callable[[str], None] | None = None,
        now: Callable[[], int] = time.time_ns,
        snapshot: Callable[[], Reply] | None = None,
    ) -> None:
        config.check()
        self.config = config
        self.inbox = inbox
        self.desk = desk
        self.on_stop = on_stop
        self.now = now
        self.snapshot = snapshot if snapshot is not None else desk.snapshot
        """What ``status`` answers (on the loop's thread, between dispatches): the desk's, or a richer one."""
        self.malformed = 0
        """Lines that were not a valid request (bad JSON, not an object, bad fields, too long)."""
        self.refused = 0
        """Requests refused for a missing or wrong token."""
        self.commands = 0
        """Requests carried out."""
        self.port: int | None = None
        """The TCP port listened on (the one picked, for port 0)."""
        self.path: Path | None = None
        self._server: asyncio.AbstractServer | None = None
        self._ino: tuple[int, int] | None = None
        self._seq = 0
        self._token = config.token.encode()

    # -- lifecycle ------------------------------------------------------------------------------------------------

    async def start(self) -> ControlServer:
        if not self.desk.ready:
            raise ConfigError(
                "the control desk is not on a node: pass it in LiveNode(extra=[desk]) and call desk.bind(node.node)",
                field="extra",
            )
        if self.config.unix is not None:
            sock = bind_private_unix(Path(self.config.unix))
            self.path = Path(self.config.unix)
            st = os.stat(self.path)
            self._ino = (st.st_dev, st.st_ino)
            self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_LINE + 1)
        else:
            assert self.config.tcp is not None
            self._server = await asyncio.start_server(self._serve, TCP_HOST, self.config.tcp, limit=MAX_LINE + 1)
            self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        server = self._server
        if server is None:
            return
        self._server = None
        server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1.0)
        if self.path is not None and self._ino is not None:
            with contextlib.suppress(OSError):
                st = os.lstat(self.path)
                if (st.st_dev, st.st_ino) == self._ino:  # still ours, not a successor's
                    os.unlink(self.path)

    async def __aenter__(self) -> ControlServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- connections ------------------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        origin = self._origin(writer)
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    if not exc.partial.strip():
                        return
                    line = exc.partial  # the last line without its newline: still a request
                except asyncio.LimitOverrunError:
                    self._record("?", origin, False, f"line over {MAX_LINE} bytes")
                    self.malformed += 1
                    await self._reply(writer, _error("malformed", f"a request line is at most {MAX_LINE} bytes"))
                    return
                if not line.strip():
                    continue
                try:
                    reply, keep = await self._handle(line, origin)
                except Exception as exc:  # a bug of ours must not take the socket down: answer, log, go on
                    log.exception("control socket: request failed")
                    reply, keep = _error("internal", f"the node could not answer: {type(exc).__name__}"), True
                await self._reply(writer, reply)
                if not keep:
                    return
        except (ConnectionError, TimeoutError, asyncio.CancelledError):  # gone, or not reading its answers
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _reply(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        writer.write(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
        await asyncio.wait_for(writer.drain(), 5.0)

    def _origin(self, writer: asyncio.StreamWriter) -> str:
        if self.config.unix is not None:
            return "unix"
        peer = writer.get_extra_info("peername")
        return f"tcp:{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "tcp"

    async def _handle(self, line: bytes, origin: str) -> tuple[Reply, bool]:
        """The reply to one line, and whether the connection stays open."""
        try:
            request = json.loads(line)
        except (ValueError, RecursionError):  # bad JSON or UTF-8; nesting deeper than the parser goes
            request = None
        if not isinstance(request, dict):
            self.malformed += 1
            self._record("?", origin, False, "not a JSON object")
            return _error("malformed", 'each line must be one JSON object, e.g. {"cmd": "status"}'), self._open()
        cmd = request.get("cmd")
        shown = cmd if isinstance(cmd, str) and cmd in _COMMANDS else "?"
        if self.config.tcp is not None and not self._authorized(request.get("token")):
            self.refused += 1
            why = "no token" if request.get("token") is None else "wrong token"
            self._record(shown, origin, False, why)
            return _error("unauthorized", f"{why}: this control socket needs the node's token"), False
        if shown == "?":
            self.malformed += 1
            self._record("?", origin, False, f"unknown command {str(cmd)[:40]!r}")
            return _error("unknown_command", f"cmd must be one of {', '.join(_COMMANDS)}"), True
        problem = _check_fields(request)
        if problem is not None:
            self.malformed += 1
            self._record(shown, origin, False, problem)
            return _error("malformed", problem), True
        if cmd == "status":
            self._record("status", origin, True)
            self.commands += 1
            return {"ok": True, "cmd": "status", **self.snapshot()}, True
        reason = str(request.get("reason") or "")
        if cmd == "stop":
            if self.on_stop is None:
                self._record("stop", origin, False, "no graceful stop wired to this node")
                return _error("unavailable", "this node cannot be stopped over its control socket"), True
            self._record("stop", origin, True, reason)
            self.commands += 1
            self.on_stop(reason or f"stop over the control socket ({origin})")
            return {"ok": True, "cmd": "stop", "stopping": True}, True
        return await self._kill(reason, bool(request.get("flatten", False)), origin), True

    def _open(self) -> bool:
        """Whether a connection stays open after a malformed line: not on TCP (no token could be read)."""
        return self.config.tcp is None

    def _authorized(self, token: object) -> bool:
        given = token.encode() if isinstance(token, str) else b""
        return hmac.compare_digest(given, self._token)

    # -- kill -----------------------------------------------------------------------------------------------------

    async def _kill(self, reason: str, flatten: bool, origin: str) -> Reply:
        self._seq += 1
        source = f"control#{self._seq}"
        loop = asyncio.get_running_loop()
        killed: asyncio.Future[Reply] = loop.create_future()
        flat: asyncio.Future[Reply] = loop.create_future()
        self.desk.expect_kill(source, _settler(loop, killed))
        if flatten:
            self.desk.expect_flatten(source, _settler(loop, flat))
        self._record("kill", origin, True, f"{reason} [{source}]" + (" flatten" if flatten else ""))
        self.commands += 1
        now = self.now()
        why = reason or f"kill over the control socket ({origin})"
        self.inbox.put(SetKillSwitch(ts_event=now, ts_init=now, engaged=True, reason=why, source=source))
        if flatten:
            self.inbox.put(FlattenPositions(ts_event=now, ts_init=now, reason=why, source=source))
        try:
            reply = await asyncio.wait_for(asyncio.shield(killed), self.config.answer_s)
        except TimeoutError:
            self.desk.forget(source)
            return _error("timeout", f"the node did not handle the kill within {self.config.answer_s:g} s")
        reply = {**reply, "cmd": "kill", "request": source}
        if flatten:
            try:
                reply["flatten"] = await asyncio.wait_for(asyncio.shield(flat), self.config.flatten_wait_s)
            except TimeoutError:
                self.desk.forget(source)
                reply["flatten"] = {"done": False, "flat": False, "orders": None, "reason": "still under way"}
        return reply

    def _record(self, command: str, origin: str, accepted: bool, detail: str = "") -> None:
        now = self.now()
        self.inbox.put(
            OperatorCommand(
                ts_event=now, ts_init=now, command=command, origin=origin, accepted=accepted, detail=detail[:200]
            )
        )


def _settler(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Reply]) -> Callable[[Reply], None]:
    """An answer callback the desk may call from the kernel's thread: completes ``future`` on its loop."""

    def settle(reply: Reply) -> None:
        def complete() -> None:
            if not future.done():
                future.set_result(reply)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(complete)

    return settle


def _error(code: str, message: str) -> Reply:
    return {"ok": False, "error": message, "code": code}


def _check_fields(request: dict[str, Any]) -> str | None:
    reason = request.get("reason", "")
    if not isinstance(reason, str):
        return "reason must be a string"
    if len(reason) > MAX_REASON:
        return f"reason is at most {MAX_REASON} characters"
    if not isinstance(request.get("flatten", False), bool):
        return "flatten must be true or false"
    return None


# -- the unix socket ----------------------------------------------------------------------------------------------


def bind_private_unix(path: Path) -> socket.socket:
    """A unix socket bound at ``path`` with mode 0600, never reachable by anyone else (module docstring).

    Refuses (``ConfigError``) a path that exists and is not a stale socket of ours, and a socket another process
    still answers on (another node's)."""
    _clear_stale(path)
    private = Path(tempfile.mkdtemp(prefix=".tapeflow-control-", dir=path.parent))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        inside = private / "s"
        sock.bind(str(inside))
        os.chmod(inside, 0o600)
        os.rename(inside, path)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot create the control socket: {exc.strerror or exc}", path=path) from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(private / "s")
        with contextlib.suppress(OSError):
            os.rmdir(private)
    return sock


def _clear_stale(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ConfigError("refusing to replace it: it exists and is not a socket", path=path, field="control.unix")
    if st.st_uid != os.getuid():
        raise ConfigError("refusing to replace it: a socket of another user", path=path, field="control.unix")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # stale: left by a node that died
        return
    except OSError as exc:
        raise ConfigError(f"cannot tell whether it is in use ({exc.strerror or exc})", path=path) from exc
    finally:
        probe.close()
    raise ConfigError(
        "another process listens on this control socket (a node already running?)", path=path, field="control.unix"
    )
