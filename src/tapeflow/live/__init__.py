"""live: see docs/ARCHITECTURE.md."""
