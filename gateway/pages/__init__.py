"""The dashboard's pages: server-rendered from the Jinja2 templates in `web/templates`, with
the vendored assets of `web/static`."""
