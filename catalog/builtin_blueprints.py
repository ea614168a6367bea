"""Backstage's kinds, shipped as builtin blueprints. Their `schema` describes `spec` (the entity's properties); the
descriptor rules of Backstage itself are checked by catalog.descriptors, so these schemas stay permissive and exist to
document the fields, render them, and build forms."""

_REF = {"type": "string", "format": "entity-ref"}
_REFS = {"type": "array", "items": _REF}
_LIFECYCLE = {
    "type": "string",
    "title": "Lifecycle",
    "examples": ["experimental", "production", "deprecated"],
    "enumColors": {"experimental": "warn", "production": "ok", "deprecated": "bad"},
}


def _schema(properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": True}


def _relation(identifier: str, title: str, target: str, *, many: bool = False, required: bool = False) -> dict:
    return {"identifier": identifier, "title": title, "target": target, "many": many, "required": required}


BUILTIN_BLUEPRINTS = [
    {
        "identifier": "component",
        "title": "Component",
        "icon": "box",
        "description": "A piece of software: a service, a website, a library, a data pipeline.",
        "schema": _schema(
            {
                "type": {"type": "string", "title": "Type", "examples": ["service", "website", "library"]},
                "lifecycle": _LIFECYCLE,
                "owner": {**_REF, "title": "Owner"},
                "system": {**_REF, "title": "System"},
                "subcomponentOf": {**_REF, "title": "Subcomponent of"},
                "providesApis": {**_REFS, "title": "Provides APIs"},
                "consumesApis": {**_REFS, "title": "Consumes APIs"},
                "dependsOn": {**_REFS, "title": "Depends on"},
            },
            ["type", "lifecycle", "owner"],
        ),
        "relations": [
            _relation("owner", "Owner", "group", required=True),
            _relation("system", "System", "system"),
            _relation("providesApis", "Provides APIs", "api", many=True),
            _relation("consumesApis", "Consumes APIs", "api", many=True),
            _relation("dependsOn", "Depends on", "component", many=True),
        ],
    },
    {
        "identifier": "api",
        "title": "API",
        "icon": "plug",
        "description": "An interface a component provides: OpenAPI, AsyncAPI, GraphQL, gRPC and more.",
        "schema": _schema(
            {
                "type": {"type": "string", "title": "Type", "examples": ["openapi", "asyncapi", "graphql", "grpc"]},
                "lifecycle": _LIFECYCLE,
                "owner": {**_REF, "title": "Owner"},
                "system": {**_REF, "title": "System"},
                "definition": {"title": "Definition", "format": "yaml"},
            },
            ["type", "lifecycle", "owner"],
        ),
        "relations": [
            _relation("owner", "Owner", "group", required=True),
            _relation("system", "System", "system"),
        ],
    },
    {
        "identifier": "resource",
        "title": "Resource",
        "icon": "database",
        "description": "Infrastructure a component needs at runtime: a database, a bucket, a queue.",
        "schema": _schema(
            {
                "type": {"type": "string", "title": "Type", "examples": ["database", "s3-bucket", "cluster"]},
                "owner": {**_REF, "title": "Owner"},
                "system": {**_REF, "title": "System"},
                "dependsOn": {**_REFS, "title": "Depends on"},
            },
            ["type", "owner"],
        ),
        "relations": [_relation("owner", "Owner", "group", required=True), _relation("system", "System", "system")],
    },
    {
        "identifier": "system",
        "title": "System",
        "icon": "layers",
        "description": "A collection of components, APIs and resources that together provide a capability.",
        "schema": _schema(
            {"owner": {**_REF, "title": "Owner"}, "domain": {**_REF, "title": "Domain"}, "type": {"type": "string"}},
            ["owner"],
        ),
        "relations": [_relation("owner", "Owner", "group", required=True), _relation("domain", "Domain", "domain")],
    },
    {
        "identifier": "domain",
        "title": "Domain",
        "icon": "globe",
        "description": "A business area that groups systems.",
        "schema": _schema(
            {"owner": {**_REF, "title": "Owner"}, "subdomainOf": {**_REF, "title": "Subdomain of"}}, ["owner"]
        ),
        "relations": [_relation("owner", "Owner", "group", required=True)],
    },
    {
        "identifier": "group",
        "title": "Group",
        "icon": "users",
        "description": "A team, department or other organisational unit.",
        "schema": _schema(
            {
                "type": {"type": "string", "title": "Type", "examples": ["team", "business-unit", "organization"]},
                "profile": {"type": "object", "title": "Profile"},
                "parent": {**_REF, "title": "Parent group"},
                "children": {**_REFS, "title": "Child groups"},
                "members": {**_REFS, "title": "Members"},
            },
            ["type", "children"],
        ),
        "relations": [_relation("parent", "Parent", "group"), _relation("members", "Members", "user", many=True)],
    },
    {
        "identifier": "user",
        "title": "User",
        "icon": "user",
        "description": "A person, such as an employee or contractor.",
        "schema": _schema(
            {"profile": {"type": "object", "title": "Profile"}, "memberOf": {**_REFS, "title": "Member of"}}
        ),
        "relations": [_relation("memberOf", "Member of", "group", many=True)],
    },
    {
        "identifier": "location",
        "title": "Location",
        "icon": "map-pin",
        "description": "A pointer to more descriptor files.",
        "schema": _schema(
            {
                "type": {"type": "string"},
                "target": {"type": "string", "format": "url"},
                "targets": {"type": "array", "items": {"type": "string"}},
            }
        ),
        "relations": [],
    },
    {
        "identifier": "template",
        "title": "Template",
        "icon": "wand",
        "description": "A software template: a form and steps that create or change entities.",
        "schema": _schema(
            {
                "type": {"type": "string"},
                "owner": {**_REF, "title": "Owner"},
                "parameters": {"title": "Parameters"},
                "steps": {"type": "array", "title": "Steps"},
            }
        ),
        "relations": [_relation("owner", "Owner", "group")],
    },
]
