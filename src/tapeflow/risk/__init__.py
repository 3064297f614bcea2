"""risk: see docs/ARCHITECTURE.md."""
