"""The network edge: the Starlette app with the JSON API, health and the pages' routes."""
