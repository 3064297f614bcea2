"""Where the tasks run: a small interface, and two engines behind it (local processes, Dask distributed).

The sweep asks only this: run ``fn`` on each item somewhere, hand back (item index, result or exception) as each
finishes, in any order, and stop when closed. Results are put back in task order by the caller, so nothing
downstream can depend on which worker finished first.

``DaskExecutor`` is the default: with no address it starts a ``LocalCluster`` on 127.0.0.1 (one process per
worker, one thread each: a backtest holds the GIL, so threads would not add speed), with its dashboard off; with
an address (``tcp://HOST:PORT``) it joins a running scheduler and talks only to that address. Dask is imported
when an executor is made, not when this module is, so ``tapeflow --help`` does not pay for it (~0.35 s).
``LocalProcesses`` needs nothing beyond the standard library: a ``ProcessPoolExecutor`` started by ``spawn``
(no inherited threads or sockets from the parent).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from tapeflow.model.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")

CONNECT_TIMEOUT_S = 30.0
"""How long joining a scheduler, or waiting for its workers, may take before the sweep gives up (exit 2)."""


class Executor(Protocol):
    @property
    def description(self) -> str:
        """What runs the tasks, for the report (``dask LocalCluster, 2 workers``)."""
        ...

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R | BaseException]]:
        """(index into ``items``, ``fn``'s result or the exception that stopped it), as each finishes."""
        ...

    def close(self) -> None:
        """Cancel what has not run and release the workers; safe to call twice."""
        ...


class _Closing:
    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class LocalProcesses(_Closing):
    """``workers`` processes on this machine, standard library only."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ConfigError(f"{workers} workers; give at least 1", field="--workers")
        self.workers = workers
        self._pool: cf.ProcessPoolExecutor | None = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )

    @property
    def description(self) -> str:
        return f"local processes, {self.workers} worker{'s' if self.workers != 1 else ''}"

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R | BaseException]]:
        assert self._pool is not None, "map_unordered after close"
        futures = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        for future in cf.as_completed(futures):
            error = future.exception()
            yield futures[future], (error if error is not None else future.result())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(_Closing):
    """Dask distributed: an embedded ``LocalCluster`` (``address=None``) or the scheduler at ``address``.

    With an address, ``workers`` is how many workers must have joined before tasks are sent (so a result never
    depends on a worker that was still starting); the wait is bounded by ``timeout_s``.
    """

    def __init__(self, workers: int, address: str | None = None, *, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        from distributed import Client, LocalCluster  # lazy: dask distributed (~0.35 s), only when a sweep runs

        if workers < 1:
            raise ConfigError(f"{workers} workers; give at least 1", field="--workers")
        self.workers = workers
        self.address = address
        self._cluster: Any = None
        try:
            if address is None:
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    worker_dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                self._client: Any = Client(self._cluster, timeout=timeout_s)  # type: ignore[no-untyped-call]
            else:
                self._client = Client(address, timeout=timeout_s)  # type: ignore[no-untyped-call]
                self._client.wait_for_workers(workers, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            self.close()
            where = address or "a LocalCluster on 127.0.0.1"
            raise ConfigError(f"cannot reach {where} with {workers} worker(s): {exc}", field="--address") from exc

    @property
    def description(self) -> str:
        plural = "s" if self.workers != 1 else ""
        if self.address is None:
            return f"dask LocalCluster, {self.workers} worker{plural}"
        return f"dask scheduler {self.address}, {self.workers}+ worker{plural}"

    @property
    def client(self) -> Any:
        """The ``distributed.Client``, for what the interface does not cover (``client.run`` on every worker)."""
        return self._client

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R | BaseException]]:
        from distributed import as_completed  # lazy: dask distributed, as in __init__

        futures = self._client.map(fn, list(items), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            try:
                result = future.result()
            except Exception as exc:  # a lost worker (KilledWorker) or a task that could not be sent
                yield index[future.key], exc
                continue
            yield index[future.key], result
        del futures

    def close(self) -> None:
        client, self._client = getattr(self, "_client", None), None
        if client is not None:
            client.close()
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.close()
