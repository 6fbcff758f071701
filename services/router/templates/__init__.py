"""Response templates: versioned data (``*.yaml`` here, or ``ROUTER_TEMPLATES_DIR``), loaded and
validated by ``loading``, chosen per item by ``TemplateSet.suggest`` and rendered by
``TemplateSet.render``."""

from services.router.templates.loading import (
    DEFAULT_DIR,
    PLACEHOLDERS,
    Template,
    TemplateError,
    TemplateSet,
    load_templates,
    parse_templates,
)

__all__ = [
    "DEFAULT_DIR",
    "PLACEHOLDERS",
    "Template",
    "TemplateError",
    "TemplateSet",
    "load_templates",
    "parse_templates",
]
