"""portfolio: see docs/ARCHITECTURE.md."""
