"""A small accessibility checker of our own, run in the browser on each console page: every form
control has a label (``<label for>``, ``aria-label`` or ``aria-labelledby``), every image has a
text alternative (``<img alt>``, ``<svg role=img>`` with a ``<title>``), buttons and links have a
name, the page has one ``<h1>``, a ``<main>`` landmark (and ``<nav>``/``<header>`` when signed
in), a language, and tables have a caption or header cells. ``focus_order`` walks the page with
the Tab key: the first stop is the skip link, and every stop is a visible element.

The palette's contrast is checked from console.css itself (tests/unit/test_console_a11y.py)."""

from __future__ import annotations

CHECK = r"""
() => {
  const problems = [];
  const named = (el) => {
    if (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")) return true;
    if (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) return true;
    return !!el.closest("label");
  };
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    if (!named(el)) problems.push(`serious: form control without a label: ${el.outerHTML.slice(0, 120)}`);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push(`serious: image without alt: ${img.src}`);
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (svg.getAttribute("aria-hidden") === "true") continue;
    if (svg.getAttribute("role") !== "img" || !svg.querySelector("title")) {
      problems.push("serious: svg without role=img and a title");
    }
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    const name = (el.textContent || "").trim() || el.getAttribute("aria-label") || el.title;
    if (!name) problems.push(`serious: ${el.tagName.toLowerCase()} without a name: ${el.outerHTML.slice(0, 120)}`);
  }
  if (document.querySelectorAll("h1").length !== 1) problems.push("moderate: not exactly one h1");
  if (!document.querySelector("main")) problems.push("serious: no main landmark");
  if (!document.documentElement.lang) problems.push("serious: no lang on html");
  if (!document.title.trim()) problems.push("serious: empty title");
  for (const table of document.querySelectorAll("table")) {
    if (!table.querySelector("caption") && !table.querySelector("th")) {
      problems.push("moderate: table without caption or header cells");
    }
  }
  const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (dupes.length) problems.push(`serious: duplicate ids ${[...new Set(dupes)].join(", ")}`);
  return problems;
}
"""

FOCUSED = r"""
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(),
    text: (el.textContent || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 40),
    visible: box.width > 0 && box.height > 0 && style.visibility !== "hidden",
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
  };
}
"""


async def problems(page) -> list[str]:
    """The serious and moderate findings on the page now."""
    return await page.evaluate(CHECK)


async def focus_order(page, stops: int = 12) -> list[dict]:
    """The first ``stops`` elements the Tab key reaches from the top of the page."""
    await page.evaluate(
        "() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }"
    )
    order = []
    for _ in range(stops):
        await page.keyboard.press("Tab")
        order.append(await page.evaluate(FOCUSED))
    return order
