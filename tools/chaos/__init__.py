"""The chaos suite (``make chaos``, ``python -m tools.chaos [--quick] [--scenario NAME]``): each
fault of ``faults.SCENARIOS`` injected into ``switchboard run``'s own stack (``LocalStack`` with
``supervise=True``: embedded broker, a private PostgreSQL from ``tools.pgcluster``) under steady
signed webhook load, then every delivery answered 2xx is followed to the router's table.

One trial per scenario (``trial.run``): start the stack, send at ``rate`` per second for
``seconds``, inject the fault ``fault_at`` seconds in, keep sending, wait for the pipeline to
drain, then count per scenario (``tally``): sent, answered 2xx, at the end, lost (answered 2xx
but not at the end), doubled (placed in a queue more than once), seconds from the fault's end
to the first new delivery at the end and to the backlog caught up, and readiness answers that
said "ready" during an outage. Nothing from outside ``switchboard run`` helps: the suite only
sends, injects the fault (and undoes it, for a pause or a stopped database) and counts.
"""
