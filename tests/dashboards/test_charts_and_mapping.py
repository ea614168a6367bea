import pytest

from dashboards.charts import format_value, line_chart, nice_ceiling
from dashboards.mapping import selector_predicate, targets_for


def test_chart_has_title_axes_ticks_units_and_gaps():
    points = [[0, 1.0], [60, 2.0], [120, None], [180, 4.0]]

    svg = str(line_chart([("requests", points)], title="Request rate", unit="req/s"))

    assert svg.startswith('<svg class="chart"')
    assert 'role="img"' in svg
    assert "<title>Request rate: requests now 4 req/s</title>" in svg
    assert ">5 req/s</text>" in svg  # the top tick: the nice ceiling of 4
    assert ">0 req/s</text>" in svg
    assert ">00:00</text>" in svg
    assert svg.count("M") >= 2  # the pen lifts over the missing point


def test_chart_without_data_says_so_and_escapes_titles():
    svg = str(line_chart([("<b>", [])], title="<script>", unit="percent"))
    assert "No data in this window" in svg
    assert "<script>" not in svg


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.2, "percent", "20 %"),
        (0.1375, "seconds", "138 ms"),
        (2.5, "seconds", "2.5 s"),
        (1234.0, "req/s", "1,234 req/s"),
        (None, "req/s", "–"),
        (float("nan"), "percent", "–"),
    ],
)
def test_format_value(value, unit, text):
    assert format_value(value, unit) == text


def test_nice_ceiling():
    assert [nice_ceiling(v) for v in (0, 0.7, 1.25, 3, 4.1, 75)] == [1.0, 1.0, 2.0, 5.0, 5.0, 100.0]


class FakeEntity:
    def __init__(self, name, annotations):
        self.name = name
        self.annotations = annotations


def test_defaults_come_from_the_entity_name(settings):
    settings.DASHBOARDS_SERVICE_LABEL = "app"
    targets = targets_for(FakeEntity("checkout", {}))
    assert (targets.argocd_app_name, targets.kubernetes_id) == ("checkout", "checkout")
    assert (targets.prometheus_label, targets.prometheus_value) == ("app", "checkout")


def test_golden_path_annotations_are_understood():
    targets = targets_for(
        FakeEntity(
            "checkout",
            {
                "argocd/app-selector": "team=payments",
                "argocd/instance-name": "prod",
                "backstage.io/kubernetes-label-selector": "app in (checkout,checkout-worker)",
                "backstage.io/kubernetes-namespace": "shop",
                "prometheus.io/label": "service=checkout-api",
                "github.com/project-slug": "acme/checkout",
            },
        )
    )
    assert targets.argocd_app_name is None
    assert targets.argocd_selector == "team=payments"
    assert targets.argocd_instance == "prod"
    assert (targets.prometheus_label, targets.prometheus_value) == ("service", "checkout-api")
    assert targets.github_slug == "acme/checkout"


def test_bad_annotations_are_reported_not_used():
    targets = targets_for(FakeEntity("x", {"prometheus.io/label": "{evil}", "github.com/project-slug": "../etc"}))
    assert targets.prometheus_value == "x"
    assert targets.github_slug is None
    assert len(targets.problems) == 2


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a=b,c", {"a": "b"}, False),
        ("a!=b", {}, True),
        ("a in (x, y),!z", {"a": "y"}, True),
        ("a notin (x)", {"a": "x"}, False),
        ("((", {"a": "x"}, False),
    ],
)
def test_label_selectors(selector, labels, expected):
    assert selector_predicate(selector)(labels) is expected


def test_chart_spans_the_whole_window_when_asked():
    svg = str(line_chart([("requests", [[1800, 1.0], [3600, 1.0]])], title="Rate", unit="req/s", start=0, end=3600))
    assert ">00:00</text>" in svg
    assert ">01:00</text>" in svg
    assert 'd="M' in svg


def test_links_from_outside_systems_must_be_http():
    from dashboards.templatetags.dashboards import http_url

    assert http_url("https://github.com/acme/x/actions/runs/1") == "https://github.com/acme/x/actions/runs/1"
    assert http_url("javascript:alert(1)") == ""
    assert http_url(None) == ""
