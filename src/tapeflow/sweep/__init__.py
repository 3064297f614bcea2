"""Parameter sweeps over symbol-days: many backtests, on local processes or a Dask cluster (docs/SCALE.md).

``config`` reads ``sweep.toml`` and builds every task (checked before anything runs), ``task`` is what a worker
runs, ``executors`` is where it runs, ``table`` is the Parquet results table, ``walk_forward`` picks each fold's
parameters from those results (``intraday`` cuts a day into blocks for it), ``run`` drives the whole. It sits
above ``backtest`` (each task is a ``run_backtest_config``) and below ``cli`` (``tapeflow sweep``).
"""

from tapeflow.sweep.config import Sweep, SweepSection, TaskSpec, load_sweep, task_seed
from tapeflow.sweep.executors import DaskExecutor, Executor, LocalProcesses
from tapeflow.sweep.run import SweepOutcome, run_sweep
from tapeflow.sweep.task import TaskResult, run_task
from tapeflow.sweep.walk_forward import FoldResult, plan_folds

__all__ = [
    "DaskExecutor",
    "Executor",
    "FoldResult",
    "LocalProcesses",
    "Sweep",
    "SweepOutcome",
    "SweepSection",
    "TaskResult",
    "TaskSpec",
    "load_sweep",
    "plan_folds",
    "run_sweep",
    "run_task",
    "task_seed",
]
