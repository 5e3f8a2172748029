"""The ASGI application for ``uvicorn hub.asgi:app`` and ``hub serve`` with several workers."""

from hub.app import create_app
from hub.logging import configure
from hub.runtime import Hub
from hub.settings import get_settings

configure(get_settings().log_level)
app = create_app(Hub.start(get_settings()))
