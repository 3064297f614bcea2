"""strategy: see docs/ARCHITECTURE.md."""
