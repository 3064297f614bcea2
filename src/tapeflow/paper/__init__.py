"""The local Alpaca-compatible paper venue (issue 15): starlette and asyncio live here, at the edge."""
