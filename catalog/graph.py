"""A server-rendered SVG picture of an entity's neighbourhood: the entity in the middle, related entities on a ring
around it, one labelled line per relation. Nodes are plain SVG links, so the picture needs no JavaScript."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from catalog.selectors import RelationGroup

MAX_NODES = 24  # more than this on one ring is unreadable; the relations list below the picture has every row
WIDTH, HEIGHT = 760, 520
NODE_W, NODE_H = 150, 40


@dataclass(frozen=True)
class GraphNode:
    key: str
    label: str
    kind: str
    url: str | None
    x: float
    y: float
    resolved: bool


@dataclass(frozen=True)
class GraphEdge:
    target: str
    label: str
    outgoing: bool


def _short(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _entity_url(kind: str, namespace: str, name: str) -> str:
    return reverse("catalog:entity", args=[kind.lower(), namespace, name])


def layout(
    entity, groups: list[RelationGroup], *, max_nodes: int = MAX_NODES
) -> tuple[list[GraphNode], list[GraphEdge]]:
    """Nodes (the entity first) and edges. A related entity reached by several relation types is one node with
    one edge per type."""
    neighbours: dict[str, tuple[str, str, str | None, bool]] = {}
    edges: list[GraphEdge] = []
    for group in groups:
        for row in group.rows:
            if row.ref not in neighbours:
                if len(neighbours) >= max_nodes:
                    continue
                if row.entity is not None:
                    target = row.entity
                    url = _entity_url(target.kind, target.namespace, target.name)
                    neighbours[row.ref] = (target.display_name, target.kind, url, True)
                else:
                    kind = row.ref.partition(":")[0]
                    neighbours[row.ref] = (row.display_ref.partition(":")[2] or row.ref, kind, None, False)
            edges.append(GraphEdge(target=row.ref, label=group.type, outgoing=row.outgoing))
    cx, cy = WIDTH / 2, HEIGHT / 2
    nodes = [
        GraphNode(
            key=entity.ref,
            label=entity.display_name,
            kind=entity.kind,
            url=_entity_url(entity.kind, entity.namespace, entity.name),
            x=cx,
            y=cy,
            resolved=True,
        )
    ]
    count = len(neighbours)
    rx, ry = WIDTH / 2 - NODE_W / 2 - 10, HEIGHT / 2 - NODE_H / 2 - 10
    for index, (ref, (label, kind, url, resolved)) in enumerate(neighbours.items()):
        angle = -math.pi / 2 + 2 * math.pi * index / max(count, 1)
        nodes.append(
            GraphNode(
                key=ref,
                label=label,
                kind=kind,
                url=url,
                x=round(cx + rx * math.cos(angle), 1),
                y=round(cy + ry * math.sin(angle), 1),
                resolved=resolved,
            )
        )
    return nodes, edges


def relations_svg(entity, groups: list[RelationGroup], *, max_nodes: int = MAX_NODES) -> SafeString:
    """The SVG markup (every text escaped). Empty string when the entity has no relations."""
    nodes, edges = layout(entity, groups, max_nodes=max_nodes)
    if len(nodes) == 1:
        return mark_safe("")
    positions = {node.key: node for node in nodes}
    centre = nodes[0]
    parts = [
        f'<svg class="relations-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="graph-title">',
        f'<title id="graph-title">Relations of {escape(entity.display_ref)}</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#94a3b8"/></marker></defs>',
    ]
    labels_at: dict[str, int] = {}
    for edge in edges:
        other = positions.get(edge.target)
        if other is None:
            continue
        start, end = (centre, other) if edge.outgoing else (other, centre)
        x1, y1, x2, y2 = _clip(start, end)
        parts.append(f'<line class="graph-edge" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" marker-end="url(#arrow)"/>')
        # Several relation types to one node: stack their labels rather than print them on top of each other.
        offset = labels_at.get(edge.target, 0)
        labels_at[edge.target] = offset + 1
        mx, my = (centre.x + other.x) / 2, (centre.y + other.y) / 2 + 12 * offset
        parts.append(
            f'<text class="graph-edge-label" x="{mx}" y="{my}" text-anchor="middle">{escape(edge.label)}</text>'
        )
    for index, node in enumerate(nodes):
        parts.append(_node(node, centre=index == 0))
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _clip(start: GraphNode, end: GraphNode) -> tuple[float, float, float, float]:
    """Shorten the line so it starts and ends at the node boxes' edges instead of their centres."""
    dx, dy = end.x - start.x, end.y - start.y
    length = math.hypot(dx, dy) or 1.0
    scale = min((NODE_W / 2) / abs(dx) if dx else math.inf, (NODE_H / 2) / abs(dy) if dy else math.inf)
    trim = min(scale * length, length / 2 - 1)
    ux, uy = dx / length, dy / length
    return (
        round(start.x + ux * trim, 1),
        round(start.y + uy * trim, 1),
        round(end.x - ux * trim, 1),
        round(end.y - uy * trim, 1),
    )


def _node(node: GraphNode, *, centre: bool) -> str:
    css = "graph-node graph-node--centre" if centre else "graph-node"
    if not node.resolved:
        css += " graph-node--unresolved"
    x, y = round(node.x - NODE_W / 2, 1), round(node.y - NODE_H / 2, 1)
    body = (
        f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
        f'<text x="{node.x}" y="{node.y - 3}" text-anchor="middle" class="graph-node-kind">{escape(node.kind)}</text>'
        f'<text x="{node.x}" y="{node.y + 13}" text-anchor="middle" class="graph-node-label">'
        f"{escape(_short(node.label))}</text>"
        f"<title>{escape(node.key)}{'' if node.resolved else ' (not in the catalog yet)'}</title>"
    )
    if node.url and not centre:
        return f'<a class="{css}" href="{escape(node.url)}">{body}</a>'
    return f'<g class="{css}">{body}</g>'
