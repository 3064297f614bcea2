"""compliance: see docs/ARCHITECTURE.md."""
