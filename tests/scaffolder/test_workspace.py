import os

import pytest

from scaffolder.workspace import (
    RenderedFile,
    WorkspaceError,
    plain_copy,
    render_skeleton,
    resolve_inside,
    tree_snapshot,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01${{ values.name }}\xff\xfe"


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.fixture
def skeleton(tmp_path):
    source = tmp_path / "skeleton"
    write(source / "README.md", "# ${{ values.name }}\n\n{% if values.public %}Public{% else %}Private{% endif %}\n")
    write(source / "src" / "${{ values.package }}" / "__init__.py", 'NAME = "${{ values.name }}"\n')
    write(source / "docs" / "logo.png", PNG)
    write(source / "latin1.txt", "caf\xe9 ${{ values.name }}".encode("latin-1"))
    write(source / ".github" / "workflows" / "ci.yaml", "run: echo ${{ github.sha }}\n")
    write(source / "${{ values.optionalFile }}", "only when asked\n")
    write(source / "${{ values.optionalDir }}" / "inside.txt", "skipped with its folder\n")
    return source


VALUES = {"name": "payments", "package": "payments_api", "public": False, "optionalFile": "", "optionalDir": ""}


def test_contents_and_names_are_rendered_and_binaries_copied_byte_for_byte(skeleton, tmp_path):
    target = tmp_path / "out"

    files = render_skeleton(skeleton, target, VALUES, copy_without_templating=[".github/workflows/*"])

    assert [file.path for file in files] == [
        ".github/workflows/ci.yaml",
        "README.md",
        "docs/logo.png",
        "latin1.txt",
        "src/payments_api/__init__.py",
    ]
    assert (target / "README.md").read_text() == "# payments\n\nPrivate\n"
    assert (target / "src/payments_api/__init__.py").read_text() == 'NAME = "payments"\n'
    assert (target / "docs/logo.png").read_bytes() == PNG
    assert (target / "latin1.txt").read_bytes() == "caf\xe9 ${{ values.name }}".encode("latin-1")
    assert (target / ".github/workflows/ci.yaml").read_text() == "run: echo ${{ github.sha }}\n"
    assert RenderedFile("docs/logo.png", len(PNG), True) in files
    assert RenderedFile("README.md", len("# payments\n\nPrivate\n"), False) in files


def test_a_name_that_renders_empty_skips_the_file_or_folder(skeleton, tmp_path):
    values = VALUES | {"optionalFile": "EXTRA.md", "optionalDir": "extra"}

    files = render_skeleton(skeleton, tmp_path / "out", values, copy_without_templating=["**/*.yaml"])

    assert {"EXTRA.md", "extra/inside.txt"} <= {file.path for file in files}


def test_a_value_may_hold_subfolders(tmp_path):
    write(tmp_path / "s" / "${{ values.path }}" / "f.txt", "x")

    render_skeleton(tmp_path / "s", tmp_path / "out", {"path": "a/b"})

    assert (tmp_path / "out/a/b/f.txt").read_text() == "x"


@pytest.mark.parametrize("bad", ["../../etc", "/etc", "a/../../b", "a//b", "."])
def test_names_that_would_escape_the_target_are_refused(tmp_path, bad):
    write(tmp_path / "s" / "${{ values.dir }}" / "passwd", "owned")

    with pytest.raises(WorkspaceError, match="renders to"):
        render_skeleton(tmp_path / "s", tmp_path / "out", {"dir": bad})

    assert not (tmp_path / "etc").exists()


def test_symlinks_pointing_outside_the_skeleton_are_refused(tmp_path):
    secret = write(tmp_path / "secret.txt", "do not copy")
    write(tmp_path / "s" / "ok.txt", "fine")
    os.symlink(secret, tmp_path / "s" / "link.txt")

    with pytest.raises(WorkspaceError, match="link.txt is a symlink to .*outside the skeleton"):
        render_skeleton(tmp_path / "s", tmp_path / "out", {})


def test_folder_symlinks_are_refused_and_file_symlinks_inside_are_copied_as_files(tmp_path):
    write(tmp_path / "s" / "real.txt", "${{ values.x }}")
    os.symlink("real.txt", tmp_path / "s" / "alias.txt")

    render_skeleton(tmp_path / "s", tmp_path / "out", {"x": "1"})

    assert (tmp_path / "out/alias.txt").read_text() == "1"
    assert not (tmp_path / "out/alias.txt").is_symlink()

    os.symlink(tmp_path, tmp_path / "s" / "up")
    with pytest.raises(WorkspaceError, match="symlink to a folder"):
        render_skeleton(tmp_path / "s", tmp_path / "out2", {"x": "1"})


def test_nothing_is_written_through_a_symlink_already_in_the_target(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "out"
    target.mkdir()
    os.symlink(outside, target / "docs")
    write(tmp_path / "s" / "docs" / "index.md", "x")

    with pytest.raises(WorkspaceError, match="outside the workspace through a symlink"):
        render_skeleton(tmp_path / "s", target, {})

    assert list(outside.iterdir()) == []


def test_two_files_rendering_to_one_path_are_refused(tmp_path):
    write(tmp_path / "s" / "${{ values.a }}.txt", "1")
    write(tmp_path / "s" / "${{ values.b }}.txt", "2")

    with pytest.raises(WorkspaceError, match="another skeleton file also renders to"):
        render_skeleton(tmp_path / "s", tmp_path / "out", {"a": "same", "b": "same"})


def test_file_and_byte_limits(tmp_path):
    for index in range(5):
        write(tmp_path / "s" / f"f{index}.txt", "x" * 100)

    with pytest.raises(WorkspaceError, match="more than 3 files"):
        render_skeleton(tmp_path / "s", tmp_path / "a", {}, max_files=3)
    with pytest.raises(WorkspaceError, match="larger than 250 bytes"):
        render_skeleton(tmp_path / "s", tmp_path / "b", {}, max_bytes=250)


def test_a_template_that_expands_past_the_byte_limit_is_stopped(tmp_path):
    write(tmp_path / "s" / "big.txt", "{% for i in range(1000) %}${{ 'x' * 1000 }}{% endfor %}")

    with pytest.raises(WorkspaceError, match="big.txt: .*character limit"):
        render_skeleton(tmp_path / "s", tmp_path / "out", {}, max_bytes=100_000)


def test_an_expression_error_names_the_file_and_line(tmp_path):
    write(tmp_path / "s" / "docs" / "index.md", "# Title\n${{ settings.SECRET_KEY }}\n")
    write(tmp_path / "s" / "docs" / "broken.md", "# Title\n\n{% if values.name %}\n")

    with pytest.raises(WorkspaceError, match=r"docs/broken.md: .*'endif'.*\(line 3\)"):
        render_skeleton(tmp_path / "s", tmp_path / "out", {"name": "x"})
    (tmp_path / "s" / "docs" / "broken.md").unlink()
    with pytest.raises(WorkspaceError, match=r"docs/index.md: settings is undefined \(line 2\)"):
        render_skeleton(tmp_path / "s", tmp_path / "out", {"name": "x"})


def test_a_value_left_out_reads_as_empty_as_in_backstage(tmp_path):
    write(
        tmp_path / "s" / "README.md",
        "# ${{ values.name }}\n{% if values.system %}Part of ${{ values.system }}{% endif %}",
    )

    render_skeleton(tmp_path / "s", tmp_path / "out", {"name": "x"})

    assert (tmp_path / "out/README.md").read_text() == "# x\n"


def test_executable_bits_are_kept(tmp_path):
    script = write(tmp_path / "s" / "run.sh", "#!/bin/sh\necho ${{ values.name }}\n")
    script.chmod(0o755)

    render_skeleton(tmp_path / "s", tmp_path / "out", {"name": "x"})

    assert os.access(tmp_path / "out/run.sh", os.X_OK)


def test_a_missing_skeleton_is_a_clear_error(tmp_path):
    with pytest.raises(WorkspaceError, match="does not exist"):
        render_skeleton(tmp_path / "nope", tmp_path / "out", {})


def test_plain_copy_copies_without_rendering(skeleton, tmp_path):
    files = plain_copy(skeleton, tmp_path / "out")

    assert (tmp_path / "out/README.md").read_text().startswith("# ${{ values.name }}")
    assert (tmp_path / "out/${{ values.package }}").exists() is False
    assert (tmp_path / "out/src/${{ values.package }}/__init__.py").exists()
    assert len(files) == 7


@pytest.mark.parametrize("bad", ["/etc", "../x", "a/../../x", "~/x"])
def test_resolve_inside_refuses_escapes(tmp_path, bad):
    with pytest.raises(WorkspaceError):
        resolve_inside(tmp_path, bad)


def test_resolve_inside_accepts_relative_paths(tmp_path):
    assert resolve_inside(tmp_path, "./a/b") == tmp_path.resolve() / "a" / "b"
    assert resolve_inside(tmp_path, ".") == tmp_path.resolve()


def test_tree_snapshot_lists_files_and_skips_git(tmp_path):
    write(tmp_path / "a.txt", "a")
    write(tmp_path / "sub" / "b.bin", b"\x00\x01")
    write(tmp_path / ".git" / "HEAD", "ref: refs/heads/main")

    assert tree_snapshot(tmp_path) == {"a.txt": b"a", "sub/b.bin": b"\x00\x01"}
    assert tree_snapshot(tmp_path / "missing") == {}
