"""ml: see docs/ARCHITECTURE.md."""
