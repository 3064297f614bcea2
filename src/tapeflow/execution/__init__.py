"""execution: see docs/ARCHITECTURE.md."""
