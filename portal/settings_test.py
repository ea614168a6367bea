"""Settings for the test suite: the normal settings, with a fast password hasher and a throwaway data directory."""

import os
import tempfile

os.environ.setdefault("PORTICO_DATA_DIR", tempfile.mkdtemp(prefix="portico-test-"))

from portal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_AUTOREFRESH = True

# Several test processes (pytest-xdist) may share one Redis: give each run its own queue and cache prefix so one
# process's worker never takes another's task.
_RUN_ID = os.environ.get("PYTEST_XDIST_WORKER", "main") + "-" + os.path.basename(os.environ["PORTICO_DATA_DIR"])
CELERY_TASK_DEFAULT_QUEUE = f"portico-test-{_RUN_ID}"
CACHES["default"]["KEY_PREFIX"] = f"portico-test-{_RUN_ID}"  # noqa: F405
