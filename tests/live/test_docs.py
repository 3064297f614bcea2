"""docs/LIVE.md stays true: its configuration block is a valid live configuration, and every module it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from tapeflow.live.config import load_live_config

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "LIVE.md").read_text(encoding="utf-8")


def test_the_documented_configuration_decodes_and_passes_the_checks(tmp_path: Path) -> None:
    block = re.search(r"```toml\n(\[live\].*?)```", DOC, re.S)
    assert block is not None, "LIVE.md has a [live] configuration block"
    path = tmp_path / "live.toml"
    path.write_text(block.group(1), encoding="utf-8")
    (tmp_path / "runs").mkdir()  # the audit trail's folder, relative to the file
    cfg = load_live_config(path)
    assert cfg.live.control_socket == str(tmp_path / "live.sock") and cfg.live.node_clock == "venue"


def test_every_module_the_document_names_exists() -> None:
    named = set(re.findall(r"`((?:live|engine|execution|compliance)/[a-z_]+\.py)`", DOC))
    assert len(named) >= 10
    missing = sorted(m for m in named if not (REPO / "src" / "tapeflow" / m).is_file())
    assert not missing, f"LIVE.md names modules that do not exist: {missing}"
