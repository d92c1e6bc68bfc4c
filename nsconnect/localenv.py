"""Write a local .env for `make run`: DEBUG on, a fresh SECRET_KEY and encryption key.

Run as `python -m nsconnect.localenv .env`; an existing file is left alone so
data encrypted with its key stays readable.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

TEMPLATE = """\
# Written by `make run` for this machine only. Never commit it.
# A variable exported in the shell wins over the same one here (see .env.example for them all).
DEBUG=true
SECRET_KEY={secret_key}
NSCONNECT_ENCRYPTION_KEYS={encryption_key}
# Origins admitted as token URLs besides NetSuite's, e.g. the fake NetSuite sandbox:
NSCONNECT_TOKEN_URL_ALLOWLIST=http://127.0.0.1:8900
"""


def write_local_env(path: Path) -> bool:
    if path.exists():
        return False
    path.write_text(
        TEMPLATE.format(
            secret_key=secrets.token_urlsafe(50),
            encryption_key=Fernet.generate_key().decode(),
        )
    )
    path.chmod(0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if write_local_env(target):
        print(f"Wrote {target} with a new SECRET_KEY and encryption key.")
