"""The console's pages, one module per concern, each with its ``router``."""

from services.console.pages import admin, auth, flow, kpis, oncall, queues, tester, triage

PAGES = (auth, flow, queues, triage, tester, oncall, kpis, admin)
