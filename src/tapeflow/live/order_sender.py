"""REST calls to Alpaca's trading API off the event loop: one thread, one kept-alive connection, one FIFO.

The node's loop must never wait for a broker, so ``send`` only queues work. One thread runs the queue in order:
a cancel or a replace can never overtake the submit of the same order (the submit's answer names the venue's id
the cancel needs), and a reconciliation queued after a command sees that command's effect.

The connection is one HTTP/1.1 socket kept alive between requests, with Nagle off. A request is written whole, in
one ``sendall`` (``http.client`` writes the headers and the body in two: the body then waits for this thread to get
the interpreter back from the event loop's thread, up to the switch interval of 5 ms when the loop is busy); the
answer is read with ``http.client.HTTPResponse``, as ``http.client`` itself reads it. ``on_written`` gets the time
the write was issued: the write to the socket takes microseconds, while the time after it would add this thread's
wait for the interpreter, which is not the order's (``benchmarks/bench_live.py``).

Failures. A connection error, a 429 or a 5xx is retried after a wait from ``tapeflow.live.backoff`` (obeying
``Retry-After``); the same client order id goes with every attempt, so a submit that landed before its answer was
lost comes back as Alpaca's 422 "client_order_id must be unique": the caller then looks the order up by that id
(``lookup``) instead of ever sending a second order. When the attempts run out the caller gets ``None`` and
answers its command with a reject: failing closed, not retrying behind the strategy's back forever.
"""

from __future__ import annotations

import http.client
import queue
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from tapeflow.execution.venue import Command
from tapeflow.live.backoff import Backoff, BackoffConfig, retry_after_seconds
from tapeflow.live.order_wire import RestRequest
from tapeflow.model.errors import ConfigError

REST_BACKOFF: Final = BackoffConfig(initial=0.1, cap=5.0, floor=0.02, max_attempts=6)
"""The default for REST: a few quick retries, then give up and reject (a command must not wait for minutes)."""
WrittenHook = Callable[[Command, int], None]
"""``on_written(command, ns)``: called on the sender's thread right after a command's request bytes were first
written (a retry is not a new decision: the tick-to-trade meter times the first attempt only)."""
Job = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    retry_after: float | None = None


class OrderSender:
    """The REST side of one venue: ``enqueue`` work for its thread, ``call`` from that thread (jobs use it)."""

    def __init__(
        self,
        base_url: str,
        key: str,
        secret: str,
        *,
        backoff: BackoffConfig = REST_BACKOFF,
        seed: int = 0,
        timeout: float = 10.0,
        on_written: WrittenHook | None = None,
        written_clock: Callable[[], int] = time.time_ns,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """``base_url``: http://host:port of the trading API (never empty: an empty URL is refused, not guessed).
        ``written_clock`` is what ``on_written`` is given (the tick-to-trade meter's clock)."""
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"the trading API URL must be http(s)://host[:port], got {base_url!r}", field="base_url")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        host = self._host if parts.port is None else f"{self._host}:{parts.port}"
        headers = {"Host": host, "APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret,
                   "Content-Type": "application/json", "Accept-Encoding": "identity"}  # fmt: skip
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        """The headers every request carries, written once."""
        self._backoff = backoff
        self._seed = seed
        self._timeout = timeout
        self.on_written = on_written
        self._written_clock = written_clock
        self._on_error = on_error
        self._conn: socket.socket | None = None
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alpaca-rest", daemon=True)
        self.requests = 0
        """HTTP requests written, retries included."""
        self.retries = 0
        """Attempts that failed with a connection error, a 429 or a 5xx and were tried again."""
        self.given_up = 0
        self.job_errors = 0
        self._counts = threading.Lock()
        self._enqueued = 0
        self._finished = 0

    # -- life -----------------------------------------------------------------------------------------------------

    def start(self) -> OrderSender:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the job running now (queued jobs are dropped: a stopping node sends nothing more)."""
        self._stopping.set()
        self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping.is_set()

    def enqueue(self, job: Job) -> None:
        """Run ``job`` on the sender's thread after everything queued before it."""
        with self._counts:
            self._enqueued += 1
        self._jobs.put(job)

    @property
    def pending(self) -> int:
        """Jobs queued or running: 0 means every request asked for so far has been answered and its answer
        applied (a lockstep test's "the node is quiescent"; a console's backlog)."""
        with self._counts:
            return self._enqueued - self._finished

    def run_now(self, job: Callable[[], object], timeout: float = 30.0) -> object:
        """Run ``job`` on the sender's thread (in turn) and wait for its result; raises what it raised."""
        done = threading.Event()
        box: list[object] = []
        error: list[BaseException] = []

        def wrapped() -> None:
            try:
                box.append(job())
            except BaseException as exc:  # handed back to the waiting caller, re-raised there
                error.append(exc)
            finally:
                done.set()

        self.enqueue(wrapped)
        if not done.wait(timeout):
            raise TimeoutError(f"the REST sender did not run a job within {timeout} s")
        if error:
            raise error[0]
        return box[0]

    def _run(self) -> None:
        while not self._stopping.is_set():
            job = self._jobs.get()
            if job is None or self._stopping.is_set():
                return
            try:
                job()
            except Exception as exc:  # a job's bug must not kill the only thread that sends orders
                self.job_errors += 1
                if self._on_error is not None:
                    self._on_error(exc)
            finally:
                with self._counts:
                    self._finished += 1

    # -- HTTP -----------------------------------------------------------------------------------------------------

    def _connection(self) -> socket.socket:
        if self._conn is None:
            conn = socket.create_connection((self._host, self._port), timeout=self._timeout)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._https:
                conn = ssl.create_default_context().wrap_socket(conn, server_hostname=self._host)
            self._conn = conn
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def encode(self, request: RestRequest) -> bytes:
        """``request`` as the bytes of one HTTP/1.1 request, headers and body together."""
        body = request.body or b""
        head = f"{request.method} {self._prefix}{request.path} HTTP/1.1\r\n{self._fixed}Content-Length: {len(body)}"
        return head.encode() + b"\r\n\r\n" + body

    def _once(self, request: RestRequest, command: Command | None) -> Response:
        conn = self._connection()
        data = self.encode(request)
        self.requests += 1
        written = self._written_clock()
        conn.sendall(data)
        if command is not None and self.on_written is not None:
            self.on_written(command, written)
        answer = http.client.HTTPResponse(conn, method=request.method)
        try:
            answer.begin()
            body = answer.read()
        finally:
            answer.close()
        if answer.will_close:
            self._close()
        return Response(answer.status, body, retry_after_seconds(answer.getheader("Retry-After")))

    def call(self, request: RestRequest, command: Command | None = None) -> Response | None:
        """``request`` with retries (see the module docstring); None when the attempts ran out or we are stopping.

        Only from the sender's thread (inside a job): the connection is not shared."""
        seed = self._seed + self.requests
        backoff: Backoff | None = None  # made on the first failure: a seeded Random costs the order ~4 us
        first = True
        while not self._stopping.is_set():
            try:
                response = self._once(request, command if first else None)  # the hook times the first write only
            except (OSError, http.client.HTTPException):
                self._close()  # a broken keep-alive socket: the next attempt opens a new one
                response = None
            first = False
            if response is not None and response.status != 429 and response.status < 500:
                return response
            if backoff is None:
                backoff = Backoff(self._backoff, seed=seed)
            wait = backoff.next_wait(response.retry_after if response is not None else None)
            if backoff.exhausted:
                self.given_up += 1
                return None
            self.retries += 1
            if self._stopping.wait(wait):
                return None
        return None

    def get(self, path: str, **params: str) -> Response | None:
        query = urllib.parse.urlencode(params)
        return self.call(RestRequest("GET", f"{path}?{query}" if query else path))
