"""Portico's step library. Importing this package registers the steps that need no outside system; modules with
steps for outside systems register theirs into the same STEP_LIBRARY when they are imported."""

from scaffolder.steps import (  # noqa: F401  (importing a module registers its steps)
    catalog,
    git,
    github,
    gitops,
    local,
)
from scaffolder.steps.base import (
    STEP_LIBRARY,
    StepContext,
    StepError,
    StepInputError,
    StepSpec,
    dry_run_check,
    register,
    run_step,
    validate_step_input,
)

__all__ = [
    "STEP_LIBRARY",
    "StepContext",
    "StepError",
    "StepInputError",
    "StepSpec",
    "dry_run_check",
    "register",
    "run_step",
    "validate_step_input",
]
