"""The HTTP face of the hub: routers, dependencies and error handlers."""
