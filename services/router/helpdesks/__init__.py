"""Helpdesks reporting back over HTTP: a signed endpoint that turns a helpdesk's native webhooks
(Zammad, Chatwoot, Zendesk) or Switchboard's own lifecycle body (Standard Webhooks) into
``switchboard.helpdesk.item.updated.v1`` events on the lifecycle topic, answered 2xx only once
the broker acknowledged them ([docs/helpdesks.md](../../../docs/helpdesks.md)).

- ``config``: per-helpdesk configuration (``ROUTER_HELPDESKS``): kind, secrets with rotation,
  URL tokens, where the item id travels, what each status means, tags.
- ``mapping``: what an adapter returns (``Reading``, ``Change``) and the shared pure helpers.
- ``standard``, ``zammad``, ``chatwoot``, ``zendesk``: per helpdesk its signature check
  (``verify``), its delivery id and its pure ``read``.
- ``inbound``: the use case (verify -> read -> item -> publish); ``publisher``: acks=all, bounded.
- ``routes``: ``POST /v1/helpdesks/{name}/events`` and ``…/events/{token}``.
"""
