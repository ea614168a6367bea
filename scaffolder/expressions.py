"""Sandboxed `${{ ... }}` expressions for action steps and skeleton files.

Action authors (platform teams, or anyone whose Backstage template a Location pulls in) write these expressions, so
they run in Jinja2's ImmutableSandboxedEnvironment with more limits on top:

- only an allow-list of filters and of methods may be called (no `str.format`, `center`, `ljust`...);
- `*`, `**`, `+`, `%` and `~` check the size of what they would build before building it;
- `range()` draws from one budget per render, and every render has a time limit and an output size limit;
- no loader, so `{% include %}`/`{% import %}`/`{% extends %}` cannot read files; no globals but `range` and `null`.

Inputs (`render_value`) use `${{ }}` only. Skeleton files (`render_text(..., blocks=True)`) also accept `{% %}`
blocks and `{# #}` comments like Backstage's fetch:template. A string that is exactly one expression returns the
native value (list, dict, bool, number), as Backstage does.
"""

from __future__ import annotations

import contextvars
import functools
import json
import math
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError, Undefined, filters, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from scaffolder.backstage_filters import parse_entity_ref, parse_repo_url, pick, project_slug
from scaffolder.expression_values import _plain, _Undefined, _wrap

MAX_VALUE_CHARS = 1_000_000  # the largest string or list one operation may build
MAX_OUTPUT_CHARS = 1_000_000  # the largest rendered step-input string
MAX_RANGE_ITEMS = 10_000  # range() items per render, summed over every call
MAX_LOOP_ITERATIONS = 100_000  # {% for %} iterations per render, nested loops included
RENDER_SECONDS = 2.0  # per render_value / render_text call

# What the engine passes as `platform` when settings say nothing (see expression_context).
PLATFORM_DEFAULTS: dict[str, Any] = {
    "github": False,
    "githubHost": "github.com",
    "githubOrg": "",
    "gitopsRepoUrl": "",
    "gitopsBranch": "main",
    "argocdNamespace": "argocd",
    "argocdProject": "default",
    "clusterServer": "https://kubernetes.default.svc",
    "imageRegistry": "registry.example.com",
    "secretStore": "platform-secrets",
}

_OPTIONAL_ROOTS = frozenset({"parameters", "values"})  # user-supplied data: a missing key reads as empty
_CACHED_SOURCE_CHARS = 10_000  # larger sources (whole skeleton files) are compiled each time, not kept in memory
_SINGLE_EXPRESSION = re.compile(r"^\s*\$\{\{(.*)\}\}\s*$", re.DOTALL)
_EXPRESSION_BODY = re.compile(r"(\$\{\{|\{%)(.*?)(\}\}|%\})", re.DOTALL)
_JS_OPERATORS = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(===|!==)""")

_STR_METHODS = frozenset(
    {
        "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
        "title", "capitalize", "find", "rfind", "count", "isdigit", "isalpha", "isalnum", "islower", "isupper",
        "removeprefix", "removesuffix", "replace", "join",
    }
)  # fmt: skip
_DICT_METHODS = frozenset({"get", "keys", "values", "items"})
_LIST_METHODS = frozenset({"index", "count"})
_LOOP_METHODS = frozenset({"cycle", "changed"})


class ExpressionError(ValueError):
    """An expression could not be evaluated: a syntax error, an undefined name, or a sandbox limit."""


@dataclass
class _Budget:
    """Limits for one top-level render; kept in a ContextVar so templates cannot see or change it."""

    range_left: int
    deadline: float
    seconds: float
    loops_left: int = MAX_LOOP_ITERATIONS

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise SecurityError(f"the template took longer than {self.seconds:g} s to render")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("portico_expression_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    if budget is None:  # only render_value/render_text run templates, and they set one; never run unlimited
        return _Budget(MAX_RANGE_ITEMS, time.monotonic() + RENDER_SECONDS, RENDER_SECONDS)
    return budget


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE_CHARS:
        raise SecurityError(f"the expression builds a value of {len(value)} items, over the {MAX_VALUE_CHARS} limit")
    return value


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


class _CodeGenerator(CodeGenerator):
    """Routes `~` (string concatenation) through a size check; the sandbox cannot intercept it otherwise."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


def _finalize(value: Any) -> Any:
    """Print values the way Backstage (JavaScript) does: true/false, nothing for null, JSON for lists and dicts."""
    if isinstance(value, Undefined):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(_plain(value))
    return value


class _Sandbox(ImmutableSandboxedEnvironment):
    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Every {% for %} iterates through _loop_guard, so nested loops that print nothing still hit the limits.
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "portico_loop_guard", [], [], None, None, lineno=loop.lineno)
        return tree

    def getattr(self, obj: Any, attribute: str) -> Any:
        # JavaScript semantics for `a.b` on dicts: the key wins over dict methods (`values.items` is the key "items").
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        if isinstance(obj, _Undefined):
            obj._fail_with_undefined_error()
        _budget().tick()
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        return self.undefined(f"{attribute!r} is not allowed in templates", name=attribute, obj=obj, exc=SecurityError)

    def checked_concat(self, parts: tuple) -> str:
        _budget().tick()
        pieces = [str(part) for part in parts]
        if sum(len(piece) for piece in pieces) > MAX_VALUE_CHARS:
            raise SecurityError(f"the expression builds a string over the {MAX_VALUE_CHARS} character limit")
        return "".join(pieces)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _budget().tick()
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if _size(sequence) and isinstance(count, int) and _size(sequence) * count > MAX_VALUE_CHARS:
                    raise SecurityError(f"repeating a value {count} times is over the {MAX_VALUE_CHARS} limit")
        elif operator == "**":
            if isinstance(left, int | float) and isinstance(right, int | float) and abs(left) > 1 and right > 0:
                if right * math.log2(abs(left)) > 4096:
                    raise SecurityError("the power is too large to compute")
        elif operator == "+":
            if _size(left) and _size(right) and _size(left) + _size(right) > MAX_VALUE_CHARS:
                raise SecurityError(f"the expression builds a value over the {MAX_VALUE_CHARS} limit")
        elif operator == "%" and isinstance(left, str):
            raise SecurityError("the % string formatting operator is not allowed; use ~ or replace")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _budget().tick()
        if isinstance(__obj, Undefined):
            __obj._fail_with_undefined_error()
        if isinstance(__obj, Macro) or __obj is _safe_range:
            return super().call(__context, __obj, *args, **kwargs)
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str) and name in _STR_METHODS:
            if name == "replace":
                return _safe_replace(owner, *args, **kwargs)
            if name == "join":
                return _safe_join(owner, *args)
            return __context.call(__obj, *args, **kwargs)
        allowed = (
            (isinstance(owner, dict) and name in _DICT_METHODS)
            or (isinstance(owner, list | tuple) and name in _LIST_METHODS)
            or (isinstance(owner, LoopContext) and name in _LOOP_METHODS)
        )
        if not allowed:
            raise SecurityError(f"calling {name or type(__obj).__name__!r} is not allowed in templates")
        return super().call(__context, __obj, *args, **kwargs)


def _safe_range(*args: int) -> range:
    numbers = range(*args)
    budget = _budget()
    if len(numbers) > budget.range_left:
        raise SecurityError(f"range() would make more than {MAX_RANGE_ITEMS} items in this template")
    budget.range_left -= len(numbers)
    return numbers


def _loop_guard(items: Any) -> Iterator[Any]:
    budget = _budget()
    for item in items:
        budget.loops_left -= 1
        if budget.loops_left < 0:
            raise SecurityError(f"loops ran more than {MAX_LOOP_ITERATIONS} times in this template")
        if budget.loops_left % 1000 == 0:
            budget.tick()
        yield item


def _safe_replace(text: str, old: str, new: str, count: int = -1) -> str:
    text, old, new = str(text), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * max(len(new) - len(old), 0) > MAX_VALUE_CHARS:
        raise SecurityError(f"replace() would build a string over the {MAX_VALUE_CHARS} character limit")
    return text.replace(old, new, -1 if count is None else count)


def _safe_join(separator: str, items: Any) -> str:
    pieces = [str(_finalize(item)) for item in items]
    if sum(len(piece) for piece in pieces) + len(separator) * len(pieces) > MAX_VALUE_CHARS:
        raise SecurityError(f"join() would build a string over the {MAX_VALUE_CHARS} character limit")
    return separator.join(pieces)


# --- filters (Backstage's own are in scaffolder.backstage_filters) ------------------------------------------------


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's default, but null counts as missing too (an optional parameter left empty)."""
    if isinstance(value, Undefined) or value is None or (boolean and not value):
        return default_value
    return value


def _dump(value: Any) -> str:
    return _check_size(json.dumps(_plain(value)))


def _jinja_filter(name: str) -> Any:
    return filters.FILTERS[name]


_FILTERS: dict[str, Any] = {
    "parseRepoUrl": parse_repo_url,
    "parseEntityRef": parse_entity_ref,
    "pick": pick,
    "projectSlug": project_slug,
    "lower": _jinja_filter("lower"),
    "upper": _jinja_filter("upper"),
    "trim": _jinja_filter("trim"),
    "capitalize": _jinja_filter("capitalize"),
    "title": _jinja_filter("title"),
    "default": _default,
    "d": _default,
    "length": _jinja_filter("length"),
    "first": _jinja_filter("first"),
    "last": _jinja_filter("last"),
    "int": _jinja_filter("int"),
    "float": _jinja_filter("float"),
    "string": _jinja_filter("string"),
    "sort": _jinja_filter("sort"),
    "unique": _jinja_filter("unique"),
    "reverse": _jinja_filter("reverse"),
    "list": _jinja_filter("list"),
    "replace": lambda text, old, new, count=None: _safe_replace(text, old, new, -1 if count is None else count),
    "join": lambda items, separator="": _safe_join(str(separator), items),
    "dump": _dump,
    "tojson": _dump,
}


@functools.cache
def _environment(blocks: bool) -> _Sandbox:
    if blocks:
        delimiters = {"block_start_string": "{%", "block_end_string": "%}"}
        delimiters |= {"comment_start_string": "{#", "comment_end_string": "#}"}
    else:
        # Step inputs need no blocks; these delimiters cannot appear in YAML text, so `{%` and `{#` stay literal.
        delimiters = {"block_start_string": "\x00\x01%", "block_end_string": "%\x01\x00"}
        delimiters |= {"comment_start_string": "\x00\x01#", "comment_end_string": "#\x01\x00"}
    env = _Sandbox(
        variable_start_string="${{",
        variable_end_string="}}",
        undefined=_Undefined,
        finalize=_finalize,
        keep_trailing_newline=True,
        autoescape=False,
        cache_size=0,
        **delimiters,
    )
    env.filters = dict(_FILTERS) | {"portico_loop_guard": _loop_guard}
    env.globals = {"range": _safe_range, "null": None}
    return env


def _js_operators(expression: str) -> str:
    """Backstage expressions are nunjucks, which accepts JavaScript's === and !==; Jinja spells them == and !=."""
    if "==" not in expression:
        return expression
    return _JS_OPERATORS.sub(lambda m: m.group(1) or m.group(2)[:-1], expression)


def _js_compat(source: str) -> str:
    if "==" not in source:
        return source
    return _EXPRESSION_BODY.sub(lambda m: m.group(1) + _js_operators(m.group(2)) + m.group(3), source)


@functools.lru_cache(maxsize=1024)
def _cached_template(source: str, blocks: bool) -> Any:
    return _environment(blocks).from_string(_js_compat(source))


def _compiled_template(source: str, blocks: bool) -> Any:
    if len(source) > _CACHED_SOURCE_CHARS:
        return _environment(blocks).from_string(_js_compat(source))
    return _cached_template(source, blocks)


@functools.lru_cache(maxsize=1024)
def _compiled_expression(source: str) -> Any:
    return _environment(False).compile_expression(_js_operators(source), undefined_to_none=False)


class _Limits:
    """Installs a fresh budget for one top-level call and turns every failure into an ExpressionError."""

    def __init__(self, source: str, seconds: float) -> None:
        self.source = source
        self.seconds = seconds

    def __enter__(self) -> None:
        self.token = _BUDGET.set(_Budget(MAX_RANGE_ITEMS, time.monotonic() + self.seconds, self.seconds))

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> bool:
        _BUDGET.reset(self.token)
        if exc is None or isinstance(exc, ExpressionError):
            return False
        # Expressions are untrusted code: whatever they raise (TypeError, ZeroDivisionError, RecursionError...)
        # becomes one error type that names the expression, or for a whole file the line.
        message = exc.message or str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"
        if "\n" in self.source.strip():
            line = getattr(exc, "lineno", None) or _template_line(exc)
            raise ExpressionError(f"{message} (line {line})" if line else message) from exc
        snippet = self.source if len(self.source) <= 120 else self.source[:117] + "..."
        raise ExpressionError(f"{message} (in {snippet!r})") from exc


def _template_line(exc: BaseException) -> int | None:
    """The template line an error happened on: Jinja rewrites tracebacks so template frames carry it."""
    line, traceback = None, exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _collect(chunks: Iterator[str], max_chars: int) -> str:
    out: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_chars:
            raise SecurityError(f"the rendered text is over the {max_chars} character limit")
        out.append(chunk)
    return "".join(out)


def _render_string(text: str, context: Mapping[str, Any]) -> Any:
    if "${{" not in text:
        return text
    single = _SINGLE_EXPRESSION.match(text)
    if single and "${{" not in single.group(1):
        with _Limits(text, RENDER_SECONDS):
            result = _compiled_expression(single.group(1))(**context)
            return _check_size(_plain(result))
    with _Limits(text, RENDER_SECONDS):
        return _collect(_compiled_template(text, False).generate(**context), MAX_OUTPUT_CHARS)


def _prepare(context: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(context, _PreparedContext):
        return context
    try:
        return _PreparedContext({key: _wrap(value, key, key in _OPTIONAL_ROOTS) for key, value in context.items()})
    except RecursionError as exc:
        raise ExpressionError("the expression context is nested too deeply") from exc


class _PreparedContext(dict):
    """A context already wrapped for path-aware errors; render_skeleton reuses one for every file."""


def prepare_context(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """Wrap a context once when rendering many strings with it (a skeleton's files); optional."""
    return _prepare(context)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every `${{ }}` in a string, or in the strings inside lists and dicts (keys are left alone)."""
    prepared = _prepare(context)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _render_string(item, prepared)
        if isinstance(item, list | tuple):
            return [walk(element) for element in item]
        if isinstance(item, Mapping):
            return {key: walk(element) for key, element in item.items()}
        return item

    return walk(value)


def render_text(
    text: str,
    context: Mapping[str, Any],
    *,
    blocks: bool = True,
    max_chars: int = MAX_OUTPUT_CHARS,
    seconds: float = RENDER_SECONDS,
) -> str:
    """Render a whole text (a skeleton file, a file name) to a string; `blocks` enables `{% %}` and `{# #}`."""
    if "${{" not in text and (not blocks or ("{%" not in text and "{#" not in text)):
        return text
    prepared = _prepare(context)
    with _Limits(text, seconds):
        return _collect(_compiled_template(text, blocks).generate(**prepared), max_chars)


def is_truthy(value: Any) -> bool:
    """Backstage's isTruthy: empty lists and dicts are false, everything else as in JavaScript."""
    if isinstance(value, list | tuple | dict):
        return len(value) > 0
    return bool(value)


def evaluate_condition(expression: Any, context: Mapping[str, Any]) -> bool:
    """Evaluate a step's (or page's, or output link's) `if`: a bool, or a `${{ }}` expression."""
    if expression is None:
        return True
    if isinstance(expression, bool):
        return expression
    if isinstance(expression, str) and "${{" not in expression:
        lowered = expression.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ExpressionError(f"the condition {expression!r} must be true, false or a ${{{{ ... }}}} expression")
    return is_truthy(render_value(expression, context))


def expression_errors(value: Any, where: str = "") -> list[str]:
    """Syntax errors of every expression in a value, each prefixed with where it is; nothing is evaluated."""
    problems: list[str] = []
    if isinstance(value, str) and "${{" in value:
        single = _SINGLE_EXPRESSION.match(value)
        try:
            if single and "${{" not in single.group(1):
                _compiled_expression(single.group(1))
            else:
                _compiled_template(value, False)
        except TemplateError as exc:
            problems.append(f"{where or 'value'}: {exc.message or exc}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problems += expression_errors(item, f"{where}[{index}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            problems += expression_errors(item, f"{where}.{key}" if where else str(key))
    return problems


def expression_references(value: Any, roots: tuple[str, ...], where: str = "") -> list[tuple[str, str, str]]:
    """(where, root, key) for every `root.key` or `root['key']` the expressions in a value read; nothing runs.

    For static checks: `expression_references(step.input, ("steps",))` lists the steps an input depends on.
    Strings that do not parse are skipped (expression_errors reports them).
    """
    found: list[tuple[str, str, str]] = []
    if isinstance(value, str) and "${{" in value:
        try:
            tree = _environment(False).parse(_js_compat(value))
        except TemplateError:
            return []
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            if isinstance(node.node, nodes.Name) and node.node.name in roots:
                key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
                if isinstance(key, str):
                    found.append((where or "value", node.node.name, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += expression_references(item, roots, f"{where}[{index}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            found += expression_references(item, roots, f"{where}.{key}" if where else str(key))
    return found


def expression_context(
    *,
    parameters: Mapping[str, Any],
    steps_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    user: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    entity: Mapping[str, Any] | None = None,
    platform: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The names a step input may use: parameters, steps.<id>.output, user, secrets, entity (day-2), platform."""
    return {
        "parameters": dict(parameters),
        "steps": {step_id: {"output": dict(outputs)} for step_id, outputs in (steps_outputs or {}).items()},
        "user": dict(user or {}),
        "secrets": dict(secrets or {}),
        "entity": dict(entity or {}),
        "platform": PLATFORM_DEFAULTS | dict(platform or {}),
    }


def redact(text: str, secrets: Mapping[str, Any]) -> str:
    """Replace every secret value (3 characters or more) in a log line with ***."""
    for value in sorted((str(v) for v in secrets.values() if v is not None), key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, "***")
    return text
