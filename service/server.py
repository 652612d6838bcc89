"""Run the app under waitress, the production WSGI server, with one log line per request."""

from __future__ import annotations

import logging
import time

from flask import Flask

log = logging.getLogger("docqa.access")


class AccessLog:
    """WSGI middleware: log method, path, status and milliseconds (never headers or tokens)."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        status_holder: list[str] = []

        def recording_start_response(status, headers, exc_info=None):
            status_holder.append(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, recording_start_response)
        finally:
            log.info(
                "%s %s %s %.1fms",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                status_holder[0] if status_holder else "-",
                (time.perf_counter() - started) * 1000,
            )


def serve(app: Flask, host: str, port: int, threads: int = 8) -> None:
    """Serve *app* until interrupted."""
    import waitress

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    waitress.serve(AccessLog(app.wsgi_app), host=host, port=port, threads=threads, ident="docqa")
