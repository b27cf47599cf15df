"""The web part: one ASGI app (FastAPI + uvicorn) for feeds, the JSON API and pages.

create_app(config)              the ASGI application
build_server(config, host, port) a uvicorn Server to run (e.g. in a thread)
serve(config, host, port, stop_event=None)  run it until stopped
"""

from __future__ import annotations

from aggregator.web.app import create_app
from aggregator.web.server import build_server, run_until_stopped, serve

__all__ = ["build_server", "create_app", "run_until_stopped", "serve"]
