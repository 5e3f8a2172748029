"""The ASGI application for ``uvicorn hub.asgi:app`` and ``hub serve`` with several workers."""

import gc

from hub.app import create_app
from hub.logging import configure
from hub.runtime import Hub
from hub.settings import get_settings

configure(get_settings().log_level)
app = create_app(Hub.start(get_settings()))

# What start-up made (modules, the app, rules, keys) lives as long as the worker: kept out of
# the collector's reach, a full collection scans about 13,000 objects instead of 200,000.
# Measured in a worker under bench/e2e.py load, such a collection paused every request in
# it for 140-160 ms; with this, for about 7 ms.
gc.freeze()
