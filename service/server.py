"""Run the app under gunicorn, the production WSGI server: worker processes, one log line per request."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from service import DEFAULT_THREADS

#: method, path, status, milliseconds: never headers, so an admin token is never logged
ACCESS_LOG_FORMAT = "%(m)s %(U)s %(s)s %(M)sms"


class AccessLogger(Logger):
    """gunicorn's logger, making only the four values ``ACCESS_LOG_FORMAT`` prints.

    For every access line gunicorn's own ``atoms`` formats the time and copies every
    request header, response header and WSGI variable into a dict that the format never
    reads: 79-90 us a line against 27-35 us this way (a loop of 20,000 lines here), about
    1% of the server's CPU time for an answered question.
    """

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        return {
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "s": status,
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
        }


class DocqaServer(BaseApplication):
    """gunicorn configured from code, so ``docqa serve`` needs no config file."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def warm_worker(language: str) -> None:
    """Load the lemma dictionary in a new worker, beside its first requests.

    simplemma reads its dictionary on first use (0.4-0.9 s): without this the
    first question each worker answers waits for it. In a thread, so the worker
    answers /healthz at once; before forking it would delay every start instead.
    """
    from index.analysis import lemmatize

    threading.Thread(target=lemmatize, args=("said", language), daemon=True).start()


def serve(app: Flask, host: str, port: int, workers: int = 2, threads: int = DEFAULT_THREADS) -> None:
    """Serve *app* until interrupted, with *workers* processes of *threads* threads each."""
    from index.retrieval import ranker
    from index.retrieval import rescorer
    from service.answers import passage_tokenizer

    ranker()  # load the compiled ranking once, here, so that forked workers start with it
    passage_tokenizer()  # and the answers' tokenizing
    if app.config["FEEDBACK_TERMS"]:
        rescorer()  # and feedback's rescoring
    DocqaServer(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": "-",
            "access_log_format": ACCESS_LOG_FORMAT,
            "logger_class": AccessLogger,
            "errorlog": "-",
            "timeout": 60,
            "graceful_timeout": 10,
            "limit_request_line": 8190,
            "post_worker_init": lambda worker: warm_worker(app.config["LANGUAGE"]),
        },
    ).run()
