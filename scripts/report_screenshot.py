"""Make the README's picture of the tear sheet from the current code: run the demo's backtest, write its report,
and let headless chromium photograph the top of the page.

    .venv/bin/python scripts/report_screenshot.py [--out docs/img/report.png] [--events N]

Run it after a change to the report (or to what the demo trades) so the picture stays true. It needs Debian's
chromium (`apt-get install -y chromium`); the browser reaches nothing but 127.0.0.1 and the page is a local file.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec

from tapeflow.backtest.config import load_backtest_config
from tapeflow.backtest.run import run_backtest_config
from tapeflow.report.tearsheet import write_tearsheet

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "synthetic_quoter.toml"
CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--virtual-time-budget=10000",  # let the page's scripts draw every chart before the picture is taken
)


def make_screenshot(out: Path, *, events: int | None = None, size: tuple[int, int] = (1280, 1500)) -> Path:
    """Runs the demo configuration (``events`` per symbol if given), writes its tear sheet and photographs it."""
    cfg = load_backtest_config(CONFIG)
    if events is not None:
        synthetic = msgspec.structs.replace(cfg.data.synthetic, events_per_symbol=events)
        cfg = msgspec.structs.replace(cfg, data=msgspec.structs.replace(cfg.data, synthetic=synthetic))
    with tempfile.TemporaryDirectory(prefix="tapeflow-shot-") as tmp:
        folder = Path(tmp)
        run_backtest_config(cfg, output_dir=folder / "results")
        page = write_tearsheet(folder / "results", folder / "report.html")
        out.parent.mkdir(parents=True, exist_ok=True)
        command = [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={folder / 'profile'}",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={out.resolve()}",
            page.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "report.png")
    parser.add_argument("--events", type=int, default=None, help="events per symbol (default: the demo's)")
    args = parser.parse_args()
    print(make_screenshot(args.out, events=args.events))
    return 0


if __name__ == "__main__":
    sys.exit(main())
