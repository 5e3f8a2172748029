"""The IG and practitioner console: server-rendered pages served by the hub itself."""
