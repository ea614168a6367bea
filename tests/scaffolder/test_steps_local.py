import re

import pytest

from scaffolder.definitions import load_yaml_documents, parse_definition
from scaffolder.steps import (
    STEP_LIBRARY,
    StepContext,
    StepError,
    StepInputError,
    dry_run_check,
    register,
    run_step,
)


@pytest.fixture
def action_dir(tmp_path):
    folder = tmp_path / "action"
    (folder / "skeleton" / "${{ values.name }}").mkdir(parents=True)
    (folder / "skeleton" / "${{ values.name }}" / "main.py").write_text('print("${{ values.name }}")\n')
    (folder / "skeleton" / "static.txt").write_text("${{ kept }}\n")
    (folder / "secret-neighbour").mkdir()
    (folder.parent / "outside").mkdir()
    return folder


@pytest.fixture
def logged():
    return []


def make_context(tmp_path, action_dir, logged, **overrides):
    values = {
        "workspace": tmp_path / "workspace",
        "parameters": {},
        "user": {"ref": "user:default/jane"},
        "steps_outputs": {},
        "checkpoint": {},
        "dry_run": False,
        "log": lambda level, message: logged.append((level, message)),
        "action_dir": action_dir,
        "step_id": "fetch",
    }
    (tmp_path / "workspace").mkdir(exist_ok=True)
    return StepContext(**(values | overrides))


@pytest.fixture
def temporary_step():
    names = []

    def add(name, **kwargs):
        names.append(name)
        return register(name, **kwargs)

    yield add
    for name in names:
        STEP_LIBRARY.pop(name, None)


def test_fetch_template_renders_the_skeleton_next_to_the_action(tmp_path, action_dir, logged):
    ctx = make_context(tmp_path, action_dir, logged)

    outputs = run_step(
        "fetch:template",
        ctx,
        {"url": "./skeleton", "targetPath": "service", "values": {"name": "svc"}, "copyWithoutTemplating": ["*.txt"]},
    )

    assert outputs == {"targetPath": "service", "fileCount": 2}
    assert (tmp_path / "workspace/service/svc/main.py").read_text() == 'print("svc")\n'
    assert (tmp_path / "workspace/service/static.txt").read_text() == "${{ kept }}\n"
    assert logged == [("info", "rendered 2 files from ./skeleton into service")]


def test_fetch_template_accepts_backstages_older_option_name(tmp_path, action_dir, logged):
    ctx = make_context(tmp_path, action_dir, logged)

    run_step("fetch:template", ctx, {"url": "skeleton", "values": {"name": "a"}, "copyWithoutRender": ["static.txt"]})

    assert (tmp_path / "workspace/static.txt").read_text() == "${{ kept }}\n"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("../outside", "goes up with '..'"),
        ("https://github.com/acme/templates/tree/main/skeleton", "is a remote URL"),
        ("/etc", "outside the local template roots"),
        ("file:///etc", "outside the local template roots"),
        ("./missing", "is not a folder"),
    ],
)
def test_fetch_template_only_reads_the_actions_folder_or_configured_roots(tmp_path, action_dir, logged, url, message):
    ctx = make_context(tmp_path, action_dir, logged)

    with pytest.raises(StepError, match=message):
        run_step("fetch:template", ctx, {"url": url})


def test_absolute_template_folders_work_under_a_configured_root(tmp_path, action_dir, logged):
    ctx = make_context(tmp_path, None, logged, settings={"SCAFFOLDER_LOCAL_TEMPLATE_ROOTS": [str(action_dir)]})

    url = f"file://{action_dir / 'skeleton'}"
    run_step("fetch:template", ctx, {"url": url, "values": {"name": "abs"}, "copyWithoutTemplating": ["*.txt"]})

    assert (tmp_path / "workspace/abs/main.py").exists()


@pytest.mark.parametrize("target", ["../escape", "/tmp/escape", "a/../../escape"])
def test_a_target_path_outside_the_workspace_is_refused(tmp_path, action_dir, logged, target):
    ctx = make_context(tmp_path, action_dir, logged)

    with pytest.raises(StepError, match="targetPath: the path"):
        run_step("fetch:template", ctx, {"url": "./skeleton", "targetPath": target, "values": {"name": "x"}})

    assert not (tmp_path / "escape").exists()


def test_a_rendering_problem_names_the_file(tmp_path, action_dir, logged):
    ctx = make_context(tmp_path, action_dir, logged)
    (action_dir / "skeleton" / "${{ values.name }}" / "main.py").write_text("print(${{ values.name | shout }})\n")

    with pytest.raises(StepError, match=re.escape("rendering ./skeleton: ${{ values.name }}/main.py: No filter named")):
        run_step(
            "fetch:template",
            ctx,
            {"url": "./skeleton", "values": {"name": "other"}, "copyWithoutTemplating": ["*.txt"]},
        )


def test_step_input_is_checked_against_its_schema_and_names_step_and_field(tmp_path, action_dir, logged):
    ctx = make_context(tmp_path, action_dir, logged)

    with pytest.raises(StepInputError, match=r"step 'fetch' \(fetch:template\): input url: This field is required"):
        run_step("fetch:template", ctx, {"values": {}})
    with pytest.raises(StepInputError, match=r"input values: Must be a group of fields"):
        run_step("fetch:template", ctx, {"url": "./skeleton", "values": "name=x"})
    with pytest.raises(StepInputError, match=r"'replace' was unexpected\); it takes copyWithoutRender"):
        run_step("fetch:template", ctx, {"url": "./skeleton", "replace": True})


def test_fetch_plain_copies_as_it_is(tmp_path, action_dir, logged):
    ctx = make_context(tmp_path, action_dir, logged)

    outputs = run_step("fetch:plain", ctx, {"url": "./skeleton", "targetPath": "raw"})

    assert outputs == {"targetPath": "raw", "fileCount": 2}
    assert (tmp_path / "workspace/raw/${{ values.name }}/main.py").read_text() == 'print("${{ values.name }}")\n'


def test_debug_log_writes_the_message_and_the_workspace_without_secrets(tmp_path, action_dir, logged):
    ctx = make_context(tmp_path, action_dir, logged, secrets={"token": "hunter22"})
    (tmp_path / "workspace" / "notes.txt").write_text("token is hunter22")

    run_step("debug:log", ctx, {"message": "using hunter22 now", "listWorkspace": "with-contents"})

    assert logged == [("info", "using *** now"), ("info", "notes.txt:\ntoken is ***")]


def test_an_unknown_step_names_what_exists(tmp_path, action_dir, logged):
    ctx = make_context(tmp_path, action_dir, logged, step_id="publish")

    with pytest.raises(
        StepError,
        match=r"step 'publish' uses 'publish:gitlab', which Portico does not have; available: .*fetch:template",
    ):
        run_step("publish:gitlab", ctx, {})


def test_other_modules_can_register_steps(tmp_path, action_dir, logged, temporary_step):
    @temporary_step("test:echo", input_schema={"type": "object", "required": ["text"]}, output_keys=("echo",))
    def echo(ctx, step_input):
        ctx.checkpoint["echoed"] = True
        return {"echo": step_input["text"]}

    ctx = make_context(tmp_path, action_dir, logged, step_id="say")

    assert run_step("test:echo", ctx, {"text": "hi"}) == {"echo": "hi"}
    assert ctx.checkpoint == {"echoed": True}
    assert STEP_LIBRARY["test:echo"].output_keys == ("echo",)
    with pytest.raises(ValueError, match="already registered"):
        register("test:echo", input_schema={})(lambda ctx, step_input: {})


def test_a_step_must_return_a_mapping(tmp_path, action_dir, logged, temporary_step):
    temporary_step("test:bad", input_schema={"type": "object"})(lambda ctx, step_input: ["not", "a", "mapping"])
    ctx = make_context(tmp_path, action_dir, logged, step_id="bad")

    with pytest.raises(StepError, match="returned list, not a mapping"):
        run_step("test:bad", ctx, {})


TEMPLATE = """
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: checks}
spec:
  type: service
  parameters:
    - properties:
        name: {type: string}
  steps:
    - id: fetch
      action: fetch:template
      input:
        values:
          name: ${{ parameters.name }}
        replace: true
    - id: log
      action: debug:log
      input:
        message: ${{ parameters.nmae }} ${{ steps.publish.output.remoteUrl }} ${{ (broken }}
    - id: publish
      action: publish:gitlab
      if: ${{ steps.fetch.output.fileCount > 0 }}
  output:
    links:
      - url: ${{ steps.publish.output.remoteUrl }}
      - url: ${{ steps.nothing.output.x }}
"""


def test_dry_run_check_names_everything_that_cannot_work():
    definition = parse_definition(load_yaml_documents(TEMPLATE)[0])

    problems = dry_run_check(definition)

    assert problems[0].startswith("step 'publish' uses 'publish:gitlab', which Portico does not have; available: ")
    assert problems[1:4] == [
        "step 'fetch' (fetch:template) needs input 'url'",
        "step 'fetch' (fetch:template) does not take input 'replace'",
        "step 'log': input.message: unexpected '}', expected ')'",
    ]


def test_dry_run_check_finds_undeclared_parameters_and_later_steps():
    definition = parse_definition(load_yaml_documents(TEMPLATE.replace(" ${{ (broken }}", ""))[0])

    problems = dry_run_check(definition)

    assert "step 'log': input.message uses parameters.nmae, which no parameter page declares" in problems
    assert "step 'log': input.message uses steps.publish, which is not a step that runs before it" in problems
    assert "output.links[1].url uses steps.nothing, which is not a step that runs before it" in problems
    assert not any("links[0]" in problem for problem in problems)
    assert not any("step 'publish': if" in problem for problem in problems)
