"""MS-1/MS-2 at full size: 10,000 marketing messages sent by 3 `guanxi worker` processes, one killed with
SIGKILL every 20 seconds, two schedulers queueing the same send; once against a gateway that honours
the idempotency key (exactly 10,000 deliveries expected) and once against one that does not (nothing
lost, every ambiguous send `unknown`, no duplicate). Baseline: the same send with no kill.

`python bench/messaging_crash.py [messages]` or `guanxi bench messaging-crash --customers N`.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_MESSAGES = 10_000
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/guanxi_messaging_crash"


def run(customers: int | None = None) -> list[str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.config.settings")
    import django

    django.setup()
    from django.conf import settings

    from guanxi.messaging.drills import run_drill

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _support import fresh_database

    messages = customers or DEFAULT_MESSAGES
    lines = []
    for engine in os.environ.get("GUANXI_BENCH_ENGINES", "sqlite,postgresql").split(","):
        for idempotent, kill_every in ((True, 0.0), (True, 20.0), (False, 20.0)):
            with tempfile.TemporaryDirectory(prefix="gx-crash-") as home:
                if engine == "postgresql":
                    import dj_database_url

                    fresh_database(dj_database_url.parse(POSTGRES_URL))
                    migrate_env = {**os.environ, "DATABASE_URL": POSTGRES_URL, "GUANXI_HOME": home}
                    subprocess.run(
                        [sys.executable, "-m", "guanxi", "migrate"],
                        env=migrate_env,
                        check=True,
                        capture_output=True,
                    )
                    url = POSTGRES_URL
                else:
                    url = f"sqlite:///{home}/crash.sqlite3"
                result = run_drill(
                    database_url=url,
                    home=Path(home),
                    secret_key=settings.SECRET_KEY,
                    messages=messages,
                    workers=3,
                    schedulers=2,
                    kill_every=kill_every,
                    idempotent=idempotent,
                    latency=0.005,
                    timeout=3600,
                )
                label = f"{'idempotent' if idempotent else 'no idempotency'}, {'kill every 20 s' if kill_every else 'no kill'}"
                lines.append(
                    f"{engine:<10} {label:<34} {result.seconds:6.0f} s  kills {result.kills:3}  "
                    f"delivered {result.delivered_keys:6,}  duplicates {result.duplicates}  lost {len(result.lost)}  "
                    f"states {dict(result.states)}"
                )
    return lines


if __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(line)
