"""Response templates: list them (filtered by language, reason, channel, with the ids the router
would suggest for that combination) and render one with the caller's values. The helpdesk may
still own the wording: these are suggestions an agent starts from."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from services.router.api.deps import AgentCaller, ApiDep
from services.router.templates import PLACEHOLDERS, TemplateError
from shared.events import ChannelKind

router = APIRouter()
Value = Annotated[str, Field(max_length=1024)]


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Value] = Field(
        default_factory=dict, max_length=len(PLACEHOLDERS), description="placeholder -> value"
    )
    version: int | None = Field(default=None, ge=1, description="Default: the latest")


@router.get("/templates", tags=["templates"], summary="Response templates and suggestions")
async def list_templates(
    p: AgentCaller,
    api: ApiDep,
    language: Annotated[str | None, Query(min_length=2, max_length=16)] = None,
    reason: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    channel: ChannelKind | None = None,
    versions: Literal["latest", "all"] = "latest",
) -> dict:
    """Templates (latest versions unless ``versions=all``) in ``language``, for ``reason`` (or
    generic) and usable on ``channel``; with ``language`` and ``channel`` also the ids the
    router suggests for that item (``suggested``, best first)."""
    templates = api.runtime.templates
    chosen = templates.latest() if versions == "latest" else list(templates.templates)
    shown = [
        t
        for t in chosen
        if (language is None or t.language == language)
        and (reason is None or t.reason in (None, reason))
        and (channel is None or not t.channels or channel in t.channels)
    ]
    answer: dict = {
        "templates": [t.summary() for t in shown],
        "placeholders": PLACEHOLDERS,
    }
    if language is not None and channel is not None:
        answer["suggested"] = list(templates.suggest(reason, language, channel))
    return answer


@router.post(
    "/templates/{template_id}/render", tags=["templates"], summary="Fill a template's placeholders"
)
async def render(template_id: str, body: RenderRequest, p: AgentCaller, api: ApiDep) -> dict:
    """The template's text with ``values`` filled in: 404 unknown template or version, 422 a
    missing or unknown value."""
    templates = api.runtime.templates
    template = templates.get(template_id, body.version)
    if template is None:
        version = "" if body.version is None else f" version {body.version}"
        raise HTTPException(404, f"no template {template_id!r}{version}")
    try:
        text = templates.render(template, body.values)
    except TemplateError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {
        "id": template.id,
        "version": template.version,
        "language": template.language,
        "text": text,
    }
