"""The four services' HTTP APIs as the console calls them: always with the signed-in user's own
bearer token, so each service decides what that user may see and do.

``call`` answers the decoded JSON or raises ``BackendError`` with the service's status and its
``detail`` (401/403/404/409/422 are the user's; a service that cannot be reached is 503)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

SERVICES = ("ingestor", "classifier", "router", "notifier")


class BackendError(Exception):
    def __init__(self, service: str, status: int, detail: str) -> None:
        super().__init__(f"{service}: {status} {detail}")
        self.service, self.status, self.detail = service, status, detail


@dataclass
class Reply:
    status: int
    body: Any
    headers: httpx.Headers


class Backends:
    def __init__(self, urls: dict[str, str], timeout_s: float) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def close(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        token: str | None,
        *,
        params: dict | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        content_type: str | None = None,
    ) -> Reply:
        """One request to ``service``. Raises ``BackendError`` on a non-2xx answer or none."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        try:
            answer = await self._client.request(
                method,
                self.urls[service] + path,
                params={k: v for k, v in (params or {}).items() if v not in (None, "")},
                json=json,
                content=content,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise BackendError(
                service, 503, f"{service} unreachable ({type(exc).__name__})"
            ) from exc
        body = _decode(answer)
        if answer.status_code >= 400:
            raise BackendError(service, answer.status_code, _detail(body, answer))
        return Reply(answer.status_code, body, answer.headers)

    async def get(self, service: str, path: str, token: str | None, **params: Any) -> Any:
        return (await self.call(service, "GET", path, token, params=params)).body

    async def text(self, service: str, path: str) -> str:
        """An open, non-JSON endpoint (``/metrics``); raises ``BackendError``."""
        try:
            answer = await self._client.get(self.urls[service] + path)
        except httpx.HTTPError as exc:
            raise BackendError(
                service, 503, f"{service} unreachable ({type(exc).__name__})"
            ) from exc
        if answer.status_code >= 400:
            raise BackendError(service, answer.status_code, answer.text[:200])
        return answer.text


def _decode(answer: httpx.Response) -> Any:
    if "json" not in answer.headers.get("content-type", ""):
        return answer.text
    try:
        return orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        return answer.text


def _detail(body: Any, answer: httpx.Response) -> str:
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list):  # FastAPI's validation errors
            return "; ".join(
                f"{'.'.join(str(x) for x in e.get('loc', ())[1:])}: {e.get('msg')}" for e in detail
            )
        return str(detail)
    return answer.reason_phrase or f"HTTP {answer.status_code}"
