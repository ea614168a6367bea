"""Small helpers shared by the test suite."""

import os
import shutil

import pytest


def skip_unless_available(reason: str) -> None:
    """Skip a test whose service or binary is missing, except in CI, where a missing part is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so a missing service or binary fails the test instead of skipping it)")
    pytest.skip(reason)


def require_binary(name: str) -> str:
    """Return the path of a program on PATH, or skip (locally) / fail (in CI) when it is missing."""
    path = shutil.which(name)
    if not path:
        skip_unless_available(f"{name} is not installed")
    return path
