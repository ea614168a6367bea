import pytest

from catalog.rendering import render_links, render_properties, render_value, safe_href


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/x", "https://example.com/x"),
        ("http://example.com", "http://example.com"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("//evil.example/x", None),
        ("/relative", None),
        ("https://", None),
        (42, None),
    ],
)
def test_only_absolute_http_links_are_made(url, expected):
    assert safe_href(url) == expected


def test_markdown_is_rendered_and_sanitised():
    html = render_value(
        "# Title\n\n**bold** <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>",
        {"type": "string", "format": "markdown"},
    )

    assert "<strong>bold</strong>" in html
    assert "<script" not in html
    assert "javascript:" not in html
    assert "onerror" not in html


def test_values_are_escaped_and_formats_become_links():
    assert render_value("<b>hi</b>", {"type": "string"}) == "&lt;b&gt;hi&lt;/b&gt;"
    assert render_value("https://x.example/?a=1&b=2", {"format": "url"}) == (
        '<a href="https://x.example/?a=1&amp;b=2" rel="noopener noreferrer">https://x.example/?a=1&amp;b=2</a>'
    )
    assert render_value("javascript:alert(1)", {"format": "url"}) == "javascript:alert(1)"
    assert render_value("dev@example.com", {"format": "email"}) == (
        '<a href="mailto:dev@example.com">dev@example.com</a>'
    )
    assert "href" not in render_value('x@y" onclick="alert(1)', {"format": "email"})


def test_enum_colours_yaml_booleans_and_lists():
    schema = {"enum": ["dev", "prod"], "enumColors": {"prod": "bad", "dev": 'nonsense" onclick="x'}}

    assert render_value("prod", schema) == '<span class="badge badge--bad">prod</span>'
    assert render_value("dev", schema) == '<span class="badge">dev</span>'
    assert render_value({"a": [1, "<x>"]}, {"type": "object"}) == '<pre class="yaml">a:\n- 1\n- &lt;x&gt;\n</pre>'
    assert render_value("key: <v>", {"format": "yaml"}) == '<pre class="yaml">key: &lt;v&gt;</pre>'
    assert render_value(True, {"type": "boolean"}) == "Yes"
    assert render_value(["a", "<b>"], {"type": "array"}) == '<ul class="plain-list"><li>a</li><li>&lt;b&gt;</li></ul>'
    assert "muted" in render_value("", {"type": "string"})


def test_references_link_to_entity_pages_with_the_relation_default_kind():
    rows = render_properties(
        {"properties": {"owner": {"type": "string", "format": "entity-ref", "title": "Owner"}}},
        {"owner": "team-a", "extra": "<i>kept</i>"},
        namespace="shop",
        relations=[{"identifier": "owner", "target": "group"}],
    )

    assert [(row.key, row.title) for row in rows] == [("owner", "Owner"), ("extra", "extra")]
    assert rows[0].html == '<a href="/catalog/group/shop/team-a/">team-a</a>'
    assert rows[1].html == "&lt;i&gt;kept&lt;/i&gt;"
    assert render_value("::bad", {"format": "entity-ref"}) == "::bad"


def test_metadata_links_keep_only_safe_urls():
    links = render_links(
        [{"url": "https://docs.example", "title": "Docs"}, {"url": "javascript:alert(1)", "title": "<b>x</b>"}, "odd"]
    )

    assert links == [
        '<a href="https://docs.example" rel="noopener noreferrer">Docs</a>',
        "&lt;b&gt;x&lt;/b&gt;",
        "odd",
    ]
    assert render_links("not a list") == []
