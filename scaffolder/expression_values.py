"""How context values look inside templates: dicts and lists that know their path (so an error says
`steps.publish.output.x is undefined (known: remoteUrl)`), optional parameters that read as empty, and the way back
to plain JSON-like data. Used by scaffolder.expressions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Undefined


class _PathDict(dict):
    """A dict that knows where it sits in the context, so errors can say `steps.publish.output.x is undefined`."""

    __slots__ = ("_portico_path",)


class _PathList(list):
    __slots__ = ("_portico_path",)


def _child_path(parent: str, key: Any) -> str:
    if isinstance(key, str) and key.isidentifier():
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{key!r}]"


def _wrap(value: Any, path: str, optional: bool = False) -> Any:
    if isinstance(value, Mapping):
        kind = _OptionalDict if optional else _PathDict
        wrapped = kind((key, _wrap(item, _child_path(path, key), optional)) for key, item in value.items())
        wrapped._portico_path = path
        return wrapped
    if isinstance(value, list | tuple):
        wrapped_list = _PathList(_wrap(item, _child_path(path, index), optional) for index, item in enumerate(value))
        wrapped_list._portico_path = path
        return wrapped_list
    return value


def _plain(value: Any) -> Any:
    """Back to plain JSON-like data: dict, list, str, int, float, bool, None; anything else becomes its text."""
    if isinstance(value, _Optional):
        return None
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises with its message here
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | range):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _path_message(undefined: Undefined) -> str:
    """`steps.publish.output.x is undefined (known: remoteUrl)` rather than Jinja's "'dict object' has no ..."."""
    if undefined._undefined_hint:
        return undefined._undefined_hint
    name = undefined._undefined_name
    parent = getattr(undefined._undefined_obj, "_portico_path", None)
    if parent is None:
        return f"{name} is undefined"
    message = f"{_child_path(parent, name)} is undefined"
    if isinstance(undefined._undefined_obj, dict):
        known = sorted(str(key) for key in undefined._undefined_obj)
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        message += f" (known: {shown})" if known else f" ({parent} is empty)"
    return message


class _Undefined(StrictUndefined):
    """StrictUndefined whose message names the full path and what exists there instead."""

    __slots__ = ()
    _undefined_message = property(_path_message)


class _OptionalDict(_PathDict):
    """Inside `parameters` (and a skeleton's `values`), a field left empty reads as nothing, as in Backstage,
    rather than as an error. Typos in step inputs are still caught: dry_run_check reports every `parameters.x`
    that no parameter page declares.
    """

    __slots__ = ()

    def __missing__(self, key: Any) -> Undefined:
        return _Optional(name=key, obj=self)


class _Optional(ChainableUndefined):
    """An unset parameter: renders as "", is false, `x.y` on it is unset too, its native value is None."""

    __slots__ = ()
    _undefined_message = property(_path_message)
