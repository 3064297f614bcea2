"""The paper venue: a local server that speaks Alpaca's trading API and fills orders with tapeflow's simulated
exchange on a recorded tape (issue 15). The edge of tapeflow where asyncio, starlette and uvicorn live.

``venue.PaperVenue`` owns one trading node over a tape, stepped on demand; ``gateway.AccountGateway`` is the one
strategy through which a client's orders enter that node; ``rest`` and ``app`` serve it over HTTP;
``trade_stream`` is the ``trade_updates`` websocket and ``data_stream`` (with ``data_wire``) Alpaca's stock data
stream v2. See docs/PAPER.md.
"""
