"""book: see docs/ARCHITECTURE.md."""
