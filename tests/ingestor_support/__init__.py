"""Fixtures of the ingestor's tests (and of the bench's webhook load): requests signed as each
platform signs them, the app run in-process (``webhooks``), and platform example bodies
(``platform_examples``)."""
