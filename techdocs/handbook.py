"""The portal's own handbook: Markdown pages under docs/, listed by docs/mkdocs.yml's nav, rendered and sanitised."""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import markdown
import nh3
import yaml
from django.conf import settings

HANDBOOK_DIR = Path(settings.BASE_DIR) / "docs"
ALLOWED_TAGS = nh3.ALLOWED_TAGS | {
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "code",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "p",
    "span",
    "div",
    "img",
    "dl",
    "dt",
    "dd",
}
ALLOWED_ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "*": {"id", "class"}, "img": {"src", "alt", "title"}}


@dataclass(frozen=True)
class HandbookPage:
    slug: str
    title: str


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to show: raw HTML in the source is sanitised away, links keep rel=noopener."""
    html = markdown.markdown(
        text,
        extensions=["extra", "toc", "sane_lists", "codehilite"],
        extension_configs={"codehilite": {"guess_lang": False, "noclasses": False}},
    )
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, link_rel="noopener noreferrer")


@lru_cache(maxsize=1)
def handbook_pages() -> list[HandbookPage]:
    """The pages in the order docs/mkdocs.yml's nav gives them."""
    config = yaml.safe_load((HANDBOOK_DIR / "mkdocs.yml").read_text())
    pages = []
    for entry in config.get("nav", []):
        ((title, filename),) = entry.items()
        pages.append(HandbookPage(slug=Path(filename).stem, title=title))
    return pages


def handbook_page(slug: str) -> tuple[HandbookPage, str] | None:
    """The page and its rendered HTML, or None. Only slugs listed in the nav are served, so no path is ever built
    from user input."""
    for page in handbook_pages():
        if page.slug == slug:
            source = HANDBOOK_DIR / "handbook" / f"{page.slug}.md"
            return page, render_markdown(source.read_text(encoding="utf-8"))
    return None
