"""The test suite: the settings every runtime shape shares, minus the costs tests do not need."""

from .base import *  # noqa: F401,F403

# PBKDF2 is slow on purpose; tests create hundreds of users and sign in as each of them.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Nothing to debug or log in a test run; warnings still reach pytest.
DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
