"""The REST sender against the paper venue's faults: 5xx and 429 retried with backoff, never a second order."""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest

from tapeflow.execution.venue import Command
from tapeflow.live.backoff import BackoffConfig
from tapeflow.live.order_sender import OrderSender
from tapeflow.live.order_wire import RestRequest, submit_request
from tapeflow.model.errors import ConfigError
from tapeflow.model.orders import CancelOrder, CancelRejected, OrderAccepted, OrderCancelled, OrderRejected
from tapeflow.model.venue_events import Reconciled, VenueReconnected

from .paper_harness import KEY, SECRET, Paper, Running, submit, wait_for


@pytest.mark.parametrize("status", [500, 503])
def test_a_submit_answered_5xx_twice_is_retried_and_placed_exactly_once(paper: Paper, status: int) -> None:
    run = Running(paper)
    try:
        paper.fault({"fault": "rest_error", "status": status, "count": 2})
        _, ask = paper.best()
        run.venue.send(submit("s-run-1", ask))
        wait_for(lambda: run.seen.of(OrderAccepted), "the acceptance")
    finally:
        run.close()
    assert run.venue.sender.retries == 2
    assert [o.client_order_id for o in paper.venue.orders()] == ["s-run-1"]
    assert not run.seen.of(OrderRejected)


def test_a_429_waits_at_least_its_retry_after_then_places_the_order_once(paper: Paper) -> None:
    run = Running(paper)
    try:
        paper.fault({"fault": "rest_error", "status": 429, "retry_after": 1, "count": 1})
        _, ask = paper.best()
        started = time.monotonic()
        run.venue.send(submit("s-run-1", ask))
        wait_for(lambda: run.seen.of(OrderAccepted), "the acceptance")
        took = time.monotonic() - started
    finally:
        run.close()
    assert took >= 1.0
    assert run.venue.sender.retries == 1
    assert len(paper.venue.orders()) == 1


def test_a_submit_the_venue_already_took_is_looked_up_by_client_id_not_sent_again(paper: Paper) -> None:
    run = Running(paper)
    try:
        bid, _ = paper.best()
        # the first attempt "landed" (here: placed directly with the same client order id) before its answer was lost
        paper.rest(
            "POST",
            "/v2/orders",
            json={
                "symbol": "AAPL",
                "qty": "100",
                "side": "buy",
                "type": "limit",
                "time_in_force": "day",
                "limit_price": str(bid / 10_000 - 1),
                "client_order_id": "s-run-1",
            },
        )
        run.venue.send(submit("s-run-1", bid - 10_000))
        wait_for(lambda: run.seen.of(OrderAccepted), "the acceptance")
    finally:
        run.close()
    (accepted,) = run.seen.of(OrderAccepted)
    assert accepted.venue_order_id == paper.venue.orders()[0].id
    assert len(paper.venue.orders()) == 1
    assert not run.seen.of(OrderRejected)


def test_a_venue_that_keeps_failing_gets_the_submit_rejected_after_the_last_attempt(paper: Paper) -> None:
    run = Running(paper)
    try:
        paper.fault({"fault": "rest_error", "status": 503, "count": 50})
        _, ask = paper.best()
        run.venue.send(submit("s-run-1", ask))
        wait_for(lambda: run.seen.of(OrderRejected), "the reject", timeout=15)
    finally:
        run.close()
    (rejected,) = run.seen.of(OrderRejected)
    assert "after every retry" in rejected.reason
    assert paper.venue.orders() == []
    assert run.venue.sender.given_up == 1


def test_the_written_hook_sees_each_command_once_even_when_it_was_retried(paper: Paper) -> None:
    written: list[tuple[Command, int]] = []
    sender = OrderSender(
        paper.url,
        KEY,
        SECRET,
        backoff=BackoffConfig(initial=0.02, cap=0.05, floor=0.01, max_attempts=5),
        on_written=lambda command, ns: written.append((command, ns)),
    ).start()
    try:
        paper.fault({"fault": "rest_error", "status": 500, "count": 1})
        _, ask = paper.best()
        command = submit("s-run-1", ask)
        response = sender.run_now(lambda: sender.call(submit_request(command), command), timeout=10)
    finally:
        sender.stop()
    assert response is not None and getattr(response, "status", None) == 200
    assert [c for c, _ in written] == [command]
    assert sender.requests == 2


def test_the_sender_keeps_one_connection_alive_across_requests(paper: Paper) -> None:
    sender = OrderSender(paper.url, KEY, SECRET).start()
    try:
        # the socket objects themselves, not their id(): a first one closed and freed could lend its id to the next
        first = sender.run_now(lambda: (sender.call(RestRequest("GET", "/v2/clock")), sender._conn))
        second = sender.run_now(lambda: (sender.call(RestRequest("GET", "/v2/account")), sender._conn))
    finally:
        sender.stop()
    assert isinstance(first, tuple) and isinstance(second, tuple)
    assert first[1] is not None and first[1] is second[1]


def test_an_empty_or_schemeless_url_is_refused_rather_than_guessed() -> None:
    for url in ("", "127.0.0.1:8080", "ftp://127.0.0.1"):
        with pytest.raises(ConfigError, match="base_url"):
            OrderSender(url, KEY, SECRET)


def test_a_cancel_answered_500_is_retried_and_the_order_ends_cancelled_once(paper: Paper) -> None:
    run = Running(paper)
    try:
        bid, _ = paper.best()
        run.venue.send(submit("s-run-1", bid - 10_000))
        wait_for(lambda: run.seen.of(OrderAccepted), "the acceptance")
        paper.fault({"fault": "rest_error", "status": 500, "count": 1})
        run.venue.send(CancelOrder(ts_event=1, ts_init=1, strategy_id="s", client_order_id="s-run-1", symbol="AAPL"))
        wait_for(lambda: run.seen.of(OrderCancelled), "the cancel")
    finally:
        run.close()
    assert len(run.seen.of(OrderCancelled)) == 1 and not run.seen.of(CancelRejected)
    assert run.venue.sender.retries == 1


def test_a_reconciliation_after_a_reconnect_rides_out_a_503(paper: Paper) -> None:
    run = Running(paper)
    try:
        paper.fault({"fault": "rest_error", "status": 503, "count": 2})
        paper.fault({"fault": "close", "stream": "trade_updates", "key": KEY})
        wait_for(lambda: run.seen.of(VenueReconnected), "the reconnect")
    finally:
        run.close()
    assert run.seen.of(Reconciled)[-1].mismatches == 0
    assert run.venue.sender.retries >= 2


def test_pending_counts_queued_and_running_jobs_until_each_has_finished_even_one_that_raised() -> None:
    sender = OrderSender("http://127.0.0.1:9", KEY, SECRET, on_error=lambda exc: None)
    gate = threading.Event()
    running = threading.Event()

    def blocked() -> None:
        running.set()
        assert gate.wait(10), "the test never opened the gate"

    def broken() -> None:
        raise RuntimeError("a job's bug")

    sender.enqueue(blocked)
    sender.enqueue(broken)
    assert sender.pending == 2, "queued before the thread runs: both are pending"
    sender.start()
    try:
        assert running.wait(10)
        assert sender.pending == 2, "one running, one queued"
        gate.set()
        wait_for(lambda: sender.pending == 0, "both jobs to finish")
        assert sender.job_errors == 1
    finally:
        gate.set()
        sender.stop()


class _WireSocket:
    """A connected socket that records each write and answers with ``answers`` in turn."""

    def __init__(self, answers: list[bytes]) -> None:
        self.writes: list[bytes] = []
        self.answers = answers
        self.closed = False

    def setsockopt(self, *args: object) -> None:
        return None

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self.answers.pop(0))

    def close(self) -> None:
        self.closed = True


OK_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def test_a_request_is_written_whole_in_one_write_and_the_hook_gets_the_time_it_was_issued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wire = _WireSocket([OK_ANSWER, OK_ANSWER])
    opened: list[object] = []

    def connect(address: object, timeout: float) -> _WireSocket:
        opened.append(address)
        return wire

    monkeypatch.setattr(socket, "create_connection", connect)
    hooks: list[tuple[str, int]] = []
    sender = OrderSender(
        "http://127.0.0.1:8000/api", KEY, SECRET, on_written=lambda c, ns: hooks.append((c.client_order_id, ns)),
        written_clock=lambda: 42,
    )  # fmt: skip
    command = submit("s-run-1", 1_000_000)
    request = submit_request(command)
    first = sender.call(request, command)
    second = sender.call(RestRequest("GET", "/v2/clock"))
    assert first is not None and first.status == 200 and first.body == b"{}"
    assert second is not None and second.status == 200
    assert opened == [("127.0.0.1", 8000)], "one kept-alive connection"
    assert len(wire.writes) == 2, "each request in one write"
    head, _, body = wire.writes[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /api/v2/orders HTTP/1.1"
    assert {"Host: 127.0.0.1:8000", f"APCA-API-KEY-ID: {KEY}", f"APCA-API-SECRET-KEY: {SECRET}",
            f"Content-Length: {len(request.body or b'')}"} <= set(lines[1:])  # fmt: skip
    assert body == request.body
    assert wire.writes[1].startswith(b"GET /api/v2/clock HTTP/1.1\r\n") and wire.writes[1].endswith(b"\r\n\r\n")
    assert hooks == [("s-run-1", 42)], "the submit's write only, at the time it was issued"


def test_an_answer_that_closes_the_connection_makes_the_next_request_open_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    sockets = [_WireSocket([closing]), _WireSocket([OK_ANSWER])]
    opened = list(sockets)
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: opened.pop(0))
    sender = OrderSender("http://127.0.0.1:8000", KEY, SECRET)
    assert sender.get("/v2/clock") is not None
    assert sockets[0].closed
    assert sender.get("/v2/account") is not None
    assert opened == [] and len(sockets[1].writes) == 1
