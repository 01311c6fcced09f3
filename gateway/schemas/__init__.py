"""The API's request bodies, declared once: the gateway decodes with these declarations and
the OpenAPI document is generated from them."""
