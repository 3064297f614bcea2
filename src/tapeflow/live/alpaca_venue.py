"""Alpaca (or the local paper venue, which speaks its API) as a venue of the trading node.

``send`` never blocks the kernel: it hands the command to the REST sender's FIFO (``tapeflow.live.order_sender``)
and returns. Everything the venue answers reaches the node through its inbox, as the node's own reports, once
(``tapeflow.live.order_ledger``): the ``trade_updates`` stream (``tapeflow.live.trade_updates``), the answers to our
requests (a 4xx becomes the reject the command's sender expects) and the reconciliations
(``tapeflow.live.reconcile``).

Sessions. The venue counts as connected while its ``trade_updates`` stream is authenticated and listening: without
it we would not hear of our fills. Each time the stream comes up the account is reconciled first, then
``VenueConnected`` (the first time) or ``VenueReconnected`` is posted; each time it drops, ``VenueDisconnected``.
While down, ``send`` answers at once with ``refusal`` (through the inbox) and queues nothing.

A runner wires it so::

    inbox = Inbox()
    venue = AlpacaVenue(base_url=..., stream_url=..., key=..., secret=..., inbox=inbox, strategies=["s1"])
    node = LiveNode([strategy], venues=[venue], inbox=inbox)
    node.restore(venue.start())          # REST: the account as the venue holds it; starts the sender thread
    task = asyncio.create_task(venue.run_stream())   # on the node's loop; or venue.start_stream_thread()
    await node.run(feed, realtime=True)
    await venue.stop_stream(); venue.stop()
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Collection
from typing import Final

from tapeflow.engine.inbox import InboxLike
from tapeflow.execution.venue import Command, refusal
from tapeflow.live.backoff import BackoffConfig
from tapeflow.live.order_ledger import OrderLedger
from tapeflow.live.order_sender import REST_BACKOFF, OrderSender, Response, WrittenHook
from tapeflow.live.order_wire import (
    UNIQUE_ID_TAKEN,
    WireUpdate,
    cancel_request,
    error_message,
    parse_json,
    parse_order,
    replace_request,
    replacement_id,
    submit_request,
)
from tapeflow.live.reconcile import Reconciler
from tapeflow.live.trade_updates import TradeUpdates
from tapeflow.model.errors import DataError, TapeflowError
from tapeflow.model.orders import CancelOrder, CancelSent, ModifyOrder, SubmitOrder
from tapeflow.model.venue_events import (
    VenueConnected,
    VenueDisconnected,
    VenueMessageRejected,
    VenueReconnected,
)
from tapeflow.model.venue_state import VenueState

DOWN: Final = "disconnected: the trade_updates stream is down"
_RECONCILE_TIMEOUT_S: Final = 60.0


class AlpacaVenue:
    """A ``VenueClient`` over Alpaca's trading API v2; it can disconnect (``always_connected`` is False)."""

    always_connected = False
    reports_cancel_sent = True
    """``send`` only queues; the sender's thread posts ``CancelSent`` as it takes each cancel up (``_cancel``)."""

    def __init__(
        self,
        *,
        base_url: str,
        stream_url: str,
        key: str,
        secret: str,
        inbox: InboxLike,
        strategies: Collection[str],
        name: str = "alpaca",
        rest_backoff: BackoffConfig = REST_BACKOFF,
        stream_backoff: BackoffConfig | None = None,
        seed: int = 0,
        idle_s: float = 5.0,
        ping_s: float = 10.0,
        on_written: WrittenHook | None = None,
        clock: Callable[[], int] = time.time_ns,
        written_clock: Callable[[], int] = time.time_ns,
    ) -> None:
        """``strategies``: the node's strategy ids (an open order of theirs from an earlier run is taken over at
        start; any other order is a disagreement). ``on_written``: the sender's hook (``OrderSender``), given the
        time of the write by ``written_clock`` (the wall clock, as the arrival stamps of market data)."""
        self.name = name
        self._inbox = inbox
        self._clock = clock
        self.ledger = OrderLedger(name, inbox, clock=clock)
        self.sender = OrderSender(
            base_url,
            key,
            secret,
            backoff=rest_backoff,
            seed=seed,
            on_written=on_written,
            on_error=self._job_failed,
            written_clock=written_clock,
        )
        self.reconciler = Reconciler(name, self.sender, self.ledger, inbox, strategies=strategies, clock=clock)
        self.stream = TradeUpdates(
            stream_url,
            key,
            secret,
            on_update=self._on_update,
            on_up=self._on_up,
            on_down=self._on_down,
            on_malformed=self._on_malformed,
            busy=lambda: self.ledger.open_count() > 0,
            backoff=stream_backoff,
            seed=seed,
            idle_s=idle_s,
            ping_s=ping_s,
        )
        self.connected = False
        """Set and cleared on the stream's loop; read by ``send`` on the kernel's thread (a plain bool)."""
        self._ever_up = False
        self._down_since = 0
        self._loop_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.errors: list[str] = []
        """Failures of the adapter's own jobs and reconciliations, in words (also in the audit trail's events)."""

    # -- life -----------------------------------------------------------------------------------------------------

    def start(self, timeout: float = _RECONCILE_TIMEOUT_S) -> VenueState:
        """Start the REST sender and read the account (the start reconciliation): what ``LiveNode.restore`` takes."""
        self.sender.start()
        state = self.sender.run_now(self.reconciler.start, timeout)
        assert isinstance(state, VenueState)
        return state

    async def run_stream(self) -> None:
        """The ``trade_updates`` session, kept up until ``stop_stream`` (run it as a task on an event loop)."""
        self._loop = asyncio.get_running_loop()
        await self.stream.run()

    async def stop_stream(self) -> None:
        await self.stream.stop()

    def start_stream_thread(self) -> threading.Thread:
        """``run_stream`` on its own event loop in a daemon thread (for a runner without a loop of its own)."""
        self._loop_thread = threading.Thread(target=asyncio.run, args=(self.run_stream(),), daemon=True)
        self._loop_thread.start()
        return self._loop_thread

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the stream (when it runs in ``start_stream_thread``'s thread) and the sender."""
        loop, thread = self._loop, self._loop_thread
        if loop is not None and thread is not None and thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.stream.stop(), loop).result(timeout)
            thread.join(timeout)
        self.sender.stop(timeout)

    # -- VenueClient ----------------------------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        if not self.connected or not self.sender.alive:
            self.ledger.post(refusal(command, self.name, DOWN, self._clock()))
            return
        if isinstance(command, SubmitOrder):
            self.ledger.sent(command)
            self.sender.enqueue(lambda: self._submit(command))
        elif isinstance(command, CancelOrder):
            self.sender.enqueue(lambda: self._cancel(command))
        else:
            self.sender.enqueue(lambda: self._modify(command))

    # -- on the sender's thread -----------------------------------------------------------------------------------

    def _refuse(self, command: Command, why: str) -> None:
        self.ledger.post(refusal(command, self.name, why, self._clock()))

    def _failed(self, response: Response | None) -> str:
        if response is None:
            return "the venue's REST API failed after every retry"
        return f"{response.status}: {error_message(response.body)}"

    def _take(self, response: Response, *, fills: bool) -> bool:
        """Apply an order record the venue answered with; False if it could not be read."""
        try:
            wire = parse_order(parse_json(response.body))
        except DataError as exc:
            self._on_malformed(f"REST answer: {exc}")
            return False
        if fills:
            self.ledger.link(wire)
        else:
            self.ledger.apply_record(wire, fills=False)
        return True

    def _lookup(self, client_order_id: str) -> Response | None:
        response = self.sender.get("/v2/orders:by_client_order_id", client_order_id=client_order_id)
        return response if response is not None and response.status == 200 else None

    def _submit(self, command: SubmitOrder) -> None:
        response = self.sender.call(submit_request(command), command)
        if response is not None and response.status == 422 and UNIQUE_ID_TAKEN in error_message(response.body):
            response = self._lookup(command.client_order_id)  # an earlier attempt landed: never a second order
        if response is None or response.status not in (200, 201):
            self._refuse(command, self._failed(response))
            return
        self._take(response, fills=False)

    def _cancel(self, command: CancelOrder) -> None:
        order_id = self.ledger.venue_order_id(command.client_order_id)
        if not order_id:
            self._refuse(command, "the venue has no order under this client order id")
            return
        # before the write, on this thread: it reaches the inbox ahead of whatever answers the request
        now = self._clock()
        self._inbox.put(
            CancelSent(
                ts_event=now,
                ts_init=now,
                strategy_id=command.strategy_id,
                client_order_id=command.client_order_id,
                symbol=command.symbol,
                venue=self.name,
            )
        )
        response = self.sender.call(cancel_request(command, order_id), command)
        if response is None or response.status not in (200, 204):
            self._refuse(command, self._failed(response))  # the stream reports the cancel itself when it lands

    def _modify(self, command: ModifyOrder) -> None:
        order_id = self.ledger.venue_order_id(command.client_order_id)
        if not order_id:
            self._refuse(command, "the venue has no order under this client order id")
            return
        new_id = replacement_id(command.client_order_id, self.ledger.next_replacement(command.client_order_id))
        response = self.sender.call(replace_request(command, order_id, new_id), command)
        if response is not None and response.status == 422 and UNIQUE_ID_TAKEN in error_message(response.body):
            response = self._lookup(new_id)
        if response is None or response.status not in (200, 201):
            self._refuse(command, self._failed(response))
            return
        self._take(response, fills=True)  # the replacement's record: applied when the stream says "replaced"

    def _reconcile_job(self) -> None:
        try:
            self.reconciler.reconcile()
        except TapeflowError as exc:
            self.errors.append(f"reconciliation failed: {exc}")

    def _job_failed(self, exc: BaseException) -> None:
        self.errors.append(f"{type(exc).__name__}: {exc}")

    # -- from the stream (its loop) -------------------------------------------------------------------------------

    def _on_update(self, update: WireUpdate) -> None:
        applied = self.ledger.apply_update(update)
        if applied is None or applied.ask_venue:  # not our order, or a change only REST describes in full:
            self.sender.enqueue(self._reconcile_job)  # the reconciliation reads (and judges) it

    def _on_malformed(self, reason: str) -> None:
        now = self._clock()
        self._inbox.put(
            VenueMessageRejected(
                ts_event=now,
                ts_init=now,
                venue=self.name,
                channel="trade_updates",
                reason=reason[:500],
                count=self.stream.malformed,
            )
        )

    async def _on_up(self) -> None:
        await asyncio.to_thread(self.sender.run_now, self.reconciler.reconcile, _RECONCILE_TIMEOUT_S)
        now = self._clock()
        self.connected = True
        if not self._ever_up:
            self._ever_up = True
            self._inbox.put(VenueConnected(ts_event=now, ts_init=now, venue=self.name))
        else:
            self._inbox.put(
                VenueReconnected(ts_event=now, ts_init=now, venue=self.name, down_ns=max(now - self._down_since, 0))
            )

    async def _on_down(self, reason: str) -> None:
        self.connected = False
        now = self._down_since = self._clock()
        self._inbox.put(VenueDisconnected(ts_event=now, ts_init=now, venue=self.name, reason=reason[:500]))
