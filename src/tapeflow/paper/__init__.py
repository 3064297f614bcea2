"""paper: a local Alpaca-compatible venue (the asyncio and starlette edge) that fills on a replayed tape."""
