"""venues: see docs/ARCHITECTURE.md."""
