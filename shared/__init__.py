"""Switchboard's common library: contracts (topics, events, settings) and plumbing
(Kafka runner, database, logging, broker launcher). No business logic lives here."""
