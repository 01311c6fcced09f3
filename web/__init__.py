"""The dashboard: server-rendered pages from Jinja2 templates, with vendored static assets."""
