"""Run the app under gunicorn, the production WSGI server: worker processes, one log line per request."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

#: method, path, status, milliseconds: never headers, so an admin token is never logged
ACCESS_LOG_FORMAT = "%(m)s %(U)s %(s)s %(M)sms"


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


def serve(app: Flask, host: str, port: int, workers: int = 2, threads: int = 4) -> None:
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
            "errorlog": "-",
            "timeout": 60,
            "graceful_timeout": 10,
            "limit_request_line": 8190,
            "post_worker_init": lambda worker: warm_worker(app.config["LANGUAGE"]),
        },
    ).run()
