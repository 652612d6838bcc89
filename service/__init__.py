"""docqa's web service: the chat page and the JSON API over an index file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from index.feedback import check_feedback_terms
from index.settings import DEFAULTS
from index.settings import coerce
from index.settings import from_environ

#: Threads per worker process of ``docqa serve``. Answering is CPU-bound Python, so one process
#: runs one answer at a time whatever its threads; a second thread starts the next request while
#: the first waits on a socket or a page of the index. Four made each process switch between more
#: answers than it can run: 2 threads gave 2-18% more answered questions a second than 4 in seven
#: alternating pairs at 130,000 chunks (wrk, 16 connections), and 1 thread half as many in two runs
#: of three (a worker whose one thread serves many kept-alive connections while the other worker
#: has few). Here rather than in service/server.py, so that commands other than serve do not
#: import gunicorn (which Windows' Python cannot).
DEFAULT_THREADS = 2


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the app: defaults, then instance/config.py, then DOCQA_* variables, then *test_config*.

    Keys are the setting names of ``index.settings.SETTINGS`` in upper case.
    """
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping({name.upper(): value for name, value in DEFAULTS.items()})
    app.config.from_pyfile("config.py", silent=True)
    app.config.update({name.upper(): value for name, value in from_environ().items()})
    if test_config is not None:
        app.config.update(test_config)
    for name in DEFAULTS:
        app.config[name.upper()] = coerce(name, app.config[name.upper()])
    check_feedback_terms(app.config["FEEDBACK_TERMS"])
    if not app.config["INDEX"]:
        app.config["INDEX"] = str(Path(app.instance_path) / "docqa.sqlite")
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's setting

    from service import api
    from service import errors
    from service import indexes
    from service import pages
    from service.limits import RateLimiter

    app.extensions["docqa.ask_limiter"] = RateLimiter(app.config["ASK_RATE_LIMIT"])
    interval = app.config["REBUILD_INTERVAL"]
    app.extensions["docqa.rebuild_limiter"] = RateLimiter(60.0 / interval if interval > 0 else 0, burst=1)
    indexes.init_app(app)
    errors.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    return app
