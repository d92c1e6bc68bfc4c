"""Run by test_single_flight in separate processes: N threads ask for one token at once.

Prints one SHA-256 of the token each caller got (never the token), one per line.
Usage: python -m tests.single_flight_callers <authentication id> <threads> <start at (epoch s)>
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nsconnect.settings")
    django.setup()
    from django.db import connection

    from authentications.models import HttpAuthentication
    from authentications.services import token_single_flight

    authentication_id, threads, start_at = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    digests: list[str] = []

    def call() -> None:
        authentication = HttpAuthentication.objects.get(pk=authentication_id)
        time.sleep(max(0.0, start_at - time.time()))
        token = token_single_flight.token_get(authentication=authentication, actor="test process")
        digests.append(hashlib.sha256(token.value.encode()).hexdigest())
        connection.close()

    workers = [threading.Thread(target=call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print("\n".join(digests))


if __name__ == "__main__":
    main()
