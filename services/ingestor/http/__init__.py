"""The ingestor's HTTP edge: routes, refusals as JSON, the OpenAPI document (``routes.install``)."""
