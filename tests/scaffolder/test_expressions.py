import time

import pytest

from scaffolder.expressions import (
    ExpressionError,
    evaluate_condition,
    expression_context,
    expression_errors,
    expression_references,
    redact,
    render_text,
    render_value,
)


@pytest.fixture
def context():
    return expression_context(
        parameters={
            "name": "payments-api",
            "replicas": 3,
            "enabled": True,
            "tags": ["a", "b"],
            "repoUrl": "github.com?owner=acme&repo=payments-api",
            "owner": "group:default/team-a",
        },
        steps_outputs={"publish": {"remoteUrl": "https://example.test/acme/payments-api"}, "step-1": {"result": "r"}},
        user={"ref": "user:default/jane", "username": "jane"},
        secrets={"token": "s3cr3t-value"},
        entity={"ref": "component:default/payments-api", "metadata": {"name": "payments-api"}},
    )


def test_a_string_that_is_one_expression_keeps_its_native_type(context):
    assert render_value("${{ parameters.replicas }}", context) == 3
    assert render_value("${{ parameters.enabled }}", context) is True
    assert render_value("${{ parameters.tags }}", context) == ["a", "b"]
    assert render_value("  ${{ parameters }}  ", context)["name"] == "payments-api"


def test_expressions_inside_text_render_like_javascript(context):
    assert render_value("svc-${{ parameters.name }}", context) == "svc-payments-api"
    assert render_value("on: ${{ parameters.enabled }}, tags: ${{ parameters.tags }}", context) == (
        'on: true, tags: ["a", "b"]'
    )


def test_lists_and_dicts_are_walked_and_keys_left_alone(context):
    value = {"${{ parameters.name }}": ["${{ user.username }}", {"n": "${{ parameters.replicas }}"}], "x": 1}

    assert render_value(value, context) == {"${{ parameters.name }}": ["jane", {"n": 3}], "x": 1}


def test_step_outputs_are_read_by_dot_or_bracket(context):
    assert render_value("${{ steps.publish.output.remoteUrl }}", context) == "https://example.test/acme/payments-api"
    assert render_value('${{ steps["step-1"].output.result }}', context) == "r"


def test_an_undefined_step_output_names_the_whole_path_and_what_exists():
    context = expression_context(parameters={}, steps_outputs={"publish": {"repoContentsUrl": "x"}})

    with pytest.raises(
        ExpressionError, match=r"steps\.publish\.output\.remoteUrl is undefined \(known: repoContentsUrl\)"
    ):
        render_value("${{ steps.publish.output.remoteUrl }}", context)
    with pytest.raises(ExpressionError, match=r"steps\.fetch is undefined \(known: publish\)"):
        render_value("${{ steps.fetch.output.x }}", context)


def test_a_parameter_left_empty_reads_as_nothing_as_in_backstage(context):
    assert render_value("${{ parameters.system }}", context) is None
    assert render_value("[${{ parameters.system }}]", context) == "[]"
    assert render_value("${{ parameters.system | default('none') }}", context) == "none"
    assert render_value("${{ parameters.nested.deeper }}", context) is None
    assert evaluate_condition("${{ parameters.system }}", context) is False


def test_backstage_filters(context):
    assert render_value("${{ parameters.repoUrl | parseRepoUrl }}", context) == {
        "host": "github.com",
        "owner": "acme",
        "repo": "payments-api",
    }
    assert render_value("${{ parameters.repoUrl | projectSlug }}", context) == "acme/payments-api"
    assert render_value("${{ parameters.owner | parseEntityRef | pick('name') }}", context) == "team-a"
    assert render_value("${{ 'team-b' | parseEntityRef({'defaultKind': 'group'}) }}", context) == {
        "kind": "group",
        "namespace": "default",
        "name": "team-b",
    }
    assert render_value("${{ parameters.name | upper | replace('-', '_') | lower }}", context) == "payments_api"
    assert render_value("${{ parameters.tags | join(',') }}", context) == "a,b"
    assert render_value("${{ '  x ' | trim }}", context) == "x"


def test_a_bad_repository_url_is_an_expression_error(context):
    with pytest.raises(ExpressionError, match="no repo= part"):
        render_value("${{ 'github.com?owner=acme' | parseRepoUrl }}", context)
    with pytest.raises(ExpressionError, match="not a repository URL"):
        render_value("${{ 'user@evil.test/x?repo=y' | parseRepoUrl }}", context)


def test_javascript_comparison_operators_from_backstage_templates_work(context):
    assert render_value("${{ parameters.name === 'payments-api' }}", context) is True
    assert render_value('${{ parameters.name !== "payments-api" }}', context) is False
    assert render_value("${{ '===' }}", context) == "==="


def test_conditions(context):
    assert evaluate_condition(None, context) is True
    assert evaluate_condition(False, context) is False
    assert evaluate_condition("${{ not parameters.enabled }}", context) is False
    assert evaluate_condition("${{ parameters.tags }}", context) is True
    assert evaluate_condition("${{ [] }}", context) is False
    assert evaluate_condition("true", context) is True
    with pytest.raises(ExpressionError, match="must be true, false or a"):
        evaluate_condition("parameters.enabled", context)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("${{ ''.__class__.__mro__ }}", "'__class__' is not allowed"),
        ("${{ parameters.name.__class__.__base__.__subclasses__() }}", "'__class__' is not allowed"),
        ("${{ cycler.__init__.__globals__ }}", "cycler is undefined"),
        ("${{ joiner.__init__.__globals__.os }}", "joiner is undefined"),
        ("${{ lipsum() }}", "lipsum is undefined"),
        ("${{ config.items() }}", "config is undefined"),
        ("${{ request.environ }}", "request is undefined"),
        ("${{ self._TemplateReference__context }}", "is not allowed"),
        ("${{ 'a' * 10**9 }}", "over the 1000000 limit"),
        ("${{ [0] * 10**9 }}", "over the 1000000 limit"),
        ("${{ 10 ** 100000 }}", "too large"),
        ("${{ ('a' * 900000) ~ ('b' * 900000) }}", "character limit"),
        ("${{ ('a' * 900000) + ('b' * 900000) }}", "limit"),
        ("${{ ('a' * 1000) | replace('a', 'b' * 100000) }}", "character limit"),
        ("${{ range(10**9) | list }}", "range()"),
        ("${{ 'x'.center(10**9) }}", "'center' is not allowed"),
        ("${{ '{:>999999999}'.format('a') }}", "'format' is not allowed"),
        ("${{ '%999999999s' % 'a' }}", "string formatting"),
        ("${{ parameters.tags.append('c') }}", "'append' is not allowed"),
        ("${{ parameters.update({'name': 'x'}) }}", "'update' is not allowed"),
        ("${{ 'x' | attr('__class__') }}", "No filter named 'attr'"),
        ("${{ 1 / 0 }}", "division by zero"),
        ("${{ parameters.name | parseEntityRef }}", "kind is required"),
    ],
)
def test_sandbox_escapes_and_resource_exhaustion_fail_with_expression_error(context, source, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render_value(source, context)


def test_the_range_budget_is_shared_by_a_whole_render(context):
    assert len(render_value("${{ range(6000) | list }}", context)) == 6000
    with pytest.raises(ExpressionError, match=r"range\(\)"):
        render_value("${{ range(6000) | list }}${{ range(6000) | list }}", context)


def test_nested_loops_in_a_skeleton_are_stopped_quickly():
    started = time.monotonic()
    with pytest.raises(ExpressionError):
        render_text("{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}", {})
    assert time.monotonic() - started < 2


def test_nested_loops_over_data_are_stopped_even_when_they_print_nothing():
    started = time.monotonic()
    with pytest.raises(ExpressionError, match="loops ran more than 100000 times"):
        render_text(
            "{% for a in values.x %}{% for b in values.x %}{% endfor %}{% endfor %}", {"values": {"x": "y" * 5000}}
        )
    assert time.monotonic() - started < 2


def test_loops_keep_working():
    text = (
        "{% for k, v in values.m.items() %}${{ loop.index }}${{ k }}=${{ v }}"
        "{% if not loop.last %},{% endif %}{% endfor %}"
    )

    assert render_text(text, {"values": {"m": {"a": 1, "b": 2}}}) == "1a=1,2b=2"
    assert render_text("{% for x in [] %}x{% else %}empty{% endfor %}", {}) == "empty"


def test_templates_cannot_include_import_or_extend_files():
    for source in ("{% include '/etc/passwd' %}", "{% import 'x.j2' as x %}", "{% extends '/etc/hostname' %}"):
        with pytest.raises(ExpressionError, match="no loader"):
            render_text(source, {})


def test_rendered_output_has_a_size_cap():
    with pytest.raises(ExpressionError, match="character limit"):
        render_text("{% for i in range(100) %}${{ 'x' * 100 }}{% endfor %}", {}, max_chars=5000)


def test_step_inputs_take_no_block_syntax_but_skeletons_do(context):
    assert render_value("literal {% if %} and {# hash #} ${{ parameters.replicas }}", context) == (
        "literal {% if %} and {# hash #} 3"
    )
    text = "{% if values.on %}yes{% else %}no{% endif %} {# gone #}${{ values.n }}\n"
    assert render_text(text, {"values": {"on": True, "n": 2}}) == "yes 2\n"


def test_macros_and_loop_helpers_work_in_skeletons():
    text = (
        "{% macro item(x) %}<${{ x }}>{% endmacro %}"
        "{% for v in values.xs %}${{ item(v) }}${{ loop.cycle('.', ';') }}{% endfor %}"
    )

    assert render_text(text, {"values": {"xs": [1, 2, 3]}}) == "<1>.<2>;<3>."


def test_a_key_named_like_a_dict_method_reads_the_key():
    assert render_value("${{ values.items }}", {"values": {"items": [1]}}) == [1]


def test_syntax_errors_are_reported_with_their_place_without_running_anything():
    problems = expression_errors({"message": "${{ parameters. }}", "list": ["ok", "${{ (1 }}"], "fine": "${{ a }}"})

    assert len(problems) == 2
    assert problems[0].startswith("message: ")
    assert problems[1].startswith("list[1]: ")


def test_references_are_found_statically():
    value = {"a": '${{ steps["fetch-base"].output.x }} ${{ parameters.name | upper }}', "b": ["${{ user.ref }}"]}

    assert expression_references(value, ("steps", "parameters")) == [
        ("a", "steps", "fetch-base"),
        ("a", "parameters", "name"),
    ]


def test_secret_values_are_redacted_from_log_lines():
    assert redact("pushing with s3cr3t-value to origin", {"token": "s3cr3t-value", "short": "ab"}) == (
        "pushing with *** to origin"
    )


def test_platform_settings_have_defaults():
    context = expression_context(parameters={}, platform={"github": True})

    assert render_value("${{ platform.github }}", context) is True
    assert render_value("${{ platform.argocdNamespace }}", context) == "argocd"
