"""Settings for the test suite: the normal settings, with a fast password hasher and a throwaway data directory."""

import os
import tempfile

os.environ.setdefault("PORTICO_DATA_DIR", tempfile.mkdtemp(prefix="portico-test-"))

from portal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_AUTOREFRESH = True
