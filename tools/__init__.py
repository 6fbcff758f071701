"""Developer and operator tooling: the `switchboard` CLI, the local stack, replay and benches."""
