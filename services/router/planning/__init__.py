"""Workload forecast and staffing for the router's queues (issue 17).

Pure cores (no I/O): ``forecast`` + ``methods`` (per-series method chosen by a rolling
backtest), ``erlang`` (Erlang C and A, shrinkage, occupancy cap, concurrency), ``plan``
(requirement per interval), ``whatif``, ``shifts`` (rostered vs required), ``simulation``
(SimPy replay that checks any staffing), ``service`` (one queue's answer).
Edges: ``history`` (read-only SQL over the router's tables), ``store`` (forecasts kept between
scheduled ``refresh`` runs), ``http`` (``planning_router`` for ``/v1/forecast`` and
``/v1/staffing``), ``csvio`` + ``plot`` + ``__main__`` (the CLI), ``evaluate`` + ``anonbank``
(the research-data evaluation). See docs/planning.md.
"""
