"""The console: a server-rendered web UI for team leads, agents and admins (live flow, queues
with SLA clocks, triage review and corrections, rule tester, on-call, KPIs and planning).

It owns no data and no Kafka client: every page is drawn from the four services' HTTP APIs,
called with the signed-in user's own bearer token, so each service's role and team checks
apply unchanged. See docs/console.md."""
