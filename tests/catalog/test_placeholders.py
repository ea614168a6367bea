import copy

import pytest

from catalog.placeholders import UnsafeTarget, resolve_placeholders, resolve_target

LOL_BOMB = 'lol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"lol{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10)
)

FILES = {
    "openapi.yaml": "openapi: 3.0.0\ninfo:\n  title: Pets\n",
    "schema.json": '{"type": "object", "properties": {"a": {"type": "string"}}}',
    "bomb.yaml": LOL_BOMB,
    "two.yaml": "a: 1\n---\nb: 2\n",
    "broken.json": "{not json",
    "deep.json": "[" * 100_000 + "]" * 100_000,
}


class Reader:
    """A location reader over a dict of files, for a descriptor at the root; records what it was asked for."""

    def __init__(self, files=FILES):
        self.files = files
        self.asked = []

    def __call__(self, path):
        self.asked.append(path)
        resolved = resolve_target("catalog-info.yaml", path)
        if resolved not in self.files:
            raise FileNotFoundError(f"no such file: {resolved}")
        return self.files[resolved]


def api(definition):
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": "pets"},
        "spec": {"type": "openapi", "lifecycle": "production", "owner": "team-a", "definition": definition},
    }


def test_text_json_and_yaml_placeholders_are_replaced():
    data = api({"$text": "openapi.yaml"})
    data["spec"]["schemas"] = [{"$json": "./schema.json"}, {"$yaml": "openapi.yaml"}]

    resolved, warnings = resolve_placeholders(data, read_relative=Reader(), fetch_url=None)

    assert warnings == []
    assert resolved["spec"]["definition"] == FILES["openapi.yaml"]
    assert resolved["spec"]["schemas"][0]["properties"]["a"] == {"type": "string"}
    assert resolved["spec"]["schemas"][1] == {"openapi": "3.0.0", "info": {"title": "Pets"}}


def test_the_input_is_not_changed():
    data = api({"$text": "openapi.yaml"})
    before = copy.deepcopy(data)

    resolve_placeholders(data, read_relative=Reader(), fetch_url=None)

    assert data == before


def test_other_dollar_keys_and_mixed_mappings_are_left_alone():
    data = api("x")
    data["spec"]["parameters"] = {"$ref": "#/definitions/a", "title": {"$text": "openapi.yaml"}}
    data["spec"]["other"] = {"$text": "openapi.yaml", "extra": 1}
    reader = Reader()

    resolved, warnings = resolve_placeholders(data, read_relative=reader, fetch_url=None)

    assert resolved == data
    assert warnings == []
    assert reader.asked == []


def test_an_unreadable_target_keeps_the_placeholder_and_warns():
    resolved, warnings = resolve_placeholders(api({"$text": "missing.yaml"}), read_relative=Reader(), fetch_url=None)

    assert resolved["spec"]["definition"] == {"$text": "missing.yaml"}
    assert warnings == ["spec.definition: could not read missing.yaml: no such file: missing.yaml"]


def test_remote_urls_without_a_fetcher_warn_and_keep_the_entity():
    url = "https://github.com/backstage/backstage/blob/master/plugins/config-schema/dev/example-schema.json"

    resolved, warnings = resolve_placeholders(api({"$text": url}), read_relative=Reader(), fetch_url=None)

    assert resolved["spec"]["definition"] == {"$text": url}
    assert warnings == [f"spec.definition: could not read {url}: reading remote URLs is not enabled"]


def test_remote_urls_go_to_the_fetcher():
    fetched = []

    def fetch(url):
        fetched.append(url)
        return "remote text"

    resolved, warnings = resolve_placeholders(
        api({"$text": "https://example.com/a.yaml"}), read_relative=Reader(), fetch_url=fetch
    )

    assert resolved["spec"]["definition"] == "remote text"
    assert fetched == ["https://example.com/a.yaml"]
    assert warnings == []


def test_fetcher_failures_are_warnings():
    def fetch(url):
        raise TimeoutError("timed out")

    resolved, warnings = resolve_placeholders(
        api({"$text": "https://example.com/a.yaml"}), read_relative=Reader(), fetch_url=fetch
    )

    assert resolved["spec"]["definition"] == {"$text": "https://example.com/a.yaml"}
    assert warnings == ["spec.definition: could not read https://example.com/a.yaml: timed out"]


@pytest.mark.parametrize("target", ["/etc/passwd", "file:///etc/passwd", "ftp://example.com/a", "~/.ssh/id_rsa", ""])
def test_absolute_paths_and_other_schemes_are_never_read(target):
    reader = Reader()

    resolved, warnings = resolve_placeholders(api({"$text": target}), read_relative=reader, fetch_url=lambda u: "x")

    assert resolved["spec"]["definition"] == {"$text": target}
    assert len(warnings) == 1
    assert reader.asked == []


@pytest.mark.parametrize(
    ("key", "target", "problem"),
    [
        ("$yaml", "bomb.yaml", "alias bomb"),
        ("$yaml", "two.yaml", "exactly one YAML document"),
        ("$json", "broken.json", "as JSON"),
        ("$json", "deep.json", "as JSON"),
    ],
)
def test_content_that_does_not_parse_safely_warns(key, target, problem):
    resolved, warnings = resolve_placeholders(api({key: target}), read_relative=Reader(), fetch_url=None)

    assert resolved["spec"]["definition"] == {key: target}
    assert len(warnings) == 1
    assert warnings[0].startswith(f"spec.definition: could not parse {target}")
    assert problem in warnings[0]


def test_oversized_content_warns():
    reader = Reader({"big.txt": "x" * 2000})

    _, warnings = resolve_placeholders(api({"$text": "big.txt"}), read_relative=reader, fetch_url=None, max_bytes=1000)

    assert warnings == ["spec.definition: could not read big.txt: content is larger than 1,000 bytes"]


def test_the_number_of_placeholders_is_limited():
    data = api("x")
    data["spec"]["many"] = [{"$text": "openapi.yaml"} for _ in range(5)]
    reader = Reader()

    resolved, warnings = resolve_placeholders(data, read_relative=reader, fetch_url=None, max_placeholders=3)

    assert len(reader.asked) == 3
    assert resolved["spec"]["many"][3] == {"$text": "openapi.yaml"}
    assert warnings == [f"spec.many[{i}]: not read, more than 3 placeholders in one entity" for i in (3, 4)]


# Location targets


@pytest.mark.parametrize(
    ("base", "target", "expected"),
    [
        ("catalog-info.yaml", "./a.yaml", "a.yaml"),
        ("catalog-info.yaml", "a.yaml", "a.yaml"),
        ("acme/org.yaml", "./team-a-group.yaml", "acme/team-a-group.yaml"),
        ("acme/org.yaml", "../components/x.yaml", "components/x.yaml"),
        ("a/b/c.yaml", "./d/../e.yaml", "a/b/e.yaml"),
        ("./all.yaml", "./apis/all.yaml", "apis/all.yaml"),
    ],
)
def test_relative_targets_are_joined_to_the_folder_of_the_file(base, target, expected):
    assert resolve_target(base, target) == expected


@pytest.mark.parametrize(
    ("base", "target"),
    [
        ("catalog-info.yaml", "../secrets.yaml"),
        ("acme/org.yaml", "../../etc/passwd"),
        ("a/b.yaml", "x/../../../y.yaml"),
        ("catalog-info.yaml", "/etc/passwd"),
        ("catalog-info.yaml", "file:///etc/passwd"),
        ("catalog-info.yaml", "..\\..\\windows.yaml"),
        ("catalog-info.yaml", "a\x00.yaml"),
        ("/abs/catalog-info.yaml", "a.yaml"),
        ("../up/catalog-info.yaml", "a.yaml"),
        ("catalog-info.yaml", "."),
    ],
)
def test_targets_that_leave_the_root_are_refused(base, target):
    with pytest.raises(UnsafeTarget):
        resolve_target(base, target)


def test_full_urls_are_returned_as_they_are():
    url = "https://github.com/spotify/backstage/blob/master/packages/catalog-model/examples/acme/org.yaml"

    assert resolve_target("acme-corp.yaml", url) == url


@pytest.mark.parametrize(
    ("base", "target", "expected"),
    [
        (
            "https://github.com/o/r/blob/main/catalog/all.yaml",
            "./apis/a.yaml",
            "https://github.com/o/r/blob/main/catalog/apis/a.yaml",
        ),
        ("https://github.com/o/r/blob/main/catalog/all.yaml", "../x.yaml", "https://github.com/o/r/blob/main/x.yaml"),
        (
            "https://gitlab.com/g/sub/p/-/blob/v1/catalog-info.yaml",
            "docs/a.yaml",
            "https://gitlab.com/g/sub/p/-/blob/v1/docs/a.yaml",
        ),
        (
            "https://raw.githubusercontent.com/o/r/main/a/b.yaml",
            "c.yaml",
            "https://raw.githubusercontent.com/o/r/main/a/c.yaml",
        ),
        ("https://example.com/catalog/all.yaml", "../x.yaml?raw=1", "https://example.com/x.yaml?raw=1"),
    ],
)
def test_targets_relative_to_a_url_are_joined_to_it(base, target, expected):
    assert resolve_target(base, target) == expected


@pytest.mark.parametrize(
    "base",
    [
        "https://github.com/o/r/blob/main/catalog-info.yaml",
        "https://gitlab.com/g/p/-/blob/main/catalog-info.yaml",
        "https://raw.githubusercontent.com/o/r/main/catalog-info.yaml",
    ],
)
def test_targets_may_not_climb_out_of_a_git_tree(base):
    with pytest.raises(UnsafeTarget, match="outside the location root"):
        resolve_target(base, "../other-repo/catalog-info.yaml")
