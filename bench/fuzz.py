"""The long API fuzz run (reliability.md AC-3): ≥ 50,000 schemathesis requests against the committed
OpenAPI document, every operation, the stateful phase on, an API token of every role, in the two-unit
world of the cross-unit test. Figures: requests, server errors, schema violations (beside the ones the
short run lists as known), cross-unit reads, and requests per second beside the baseline: the short
run of `make test` (3 examples per operation) measured first in the same invocation.

Runs tests/api_fuzz through pytest on SQLite (in memory) in a child process, so it needs a source
checkout and the dev requirements. `guanxi bench fuzz [--customers N]` targets N requests instead
of 50,000 (the option's name is shared by every bench).
"""

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 50_000
OPERATIONS = 129
SCENARIOS_PER_1000 = 4  # stateful scenarios per thousand stateless requests


def _fuzz(examples: int, scenarios: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="gx-bench-fuzz-") as home:
        report = Path(home) / "report.json"
        environment = {
            **os.environ,
            "GUANXI_HOME": home,
            "GUANXI_FUZZ_EXAMPLES": str(examples),
            "GUANXI_FUZZ_SCENARIOS": str(scenarios),
            "GUANXI_FUZZ_REPORT": str(report),
        }
        environment.pop("TEST_DATABASE_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/api_fuzz"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if not report.exists():
            raise RuntimeError(done.stdout[-3000:] + done.stderr[-3000:])
        return json.loads(report.read_text())


def run(customers: int | None = None) -> list[str]:
    target = customers or TARGET
    baseline = _fuzz(3, 18)
    examples = math.ceil(target / OPERATIONS)
    long = _fuzz(examples, max(18, target * SCENARIOS_PER_1000 // 1000))
    known = set(baseline["failures"])
    rate = long["requests"] / long["seconds"]
    base_rate = baseline["requests"] / baseline["seconds"]
    return [
        f"API fuzz: {long['requests']:,} requests ({examples} examples per operation + stateful) "
        f"in {long['seconds']:,.0f} s",
        f"  server errors      {long['server_errors']}",
        f"  schema violations  {len(long['failures'])} ({len(set(long['failures']) - known)} beyond the "
        f"{len(known)} the short run knows)",
        f"  cross-unit reads   {len(long['cross_unit_reads'])}",
        f"  statuses           {long['statuses']}",
        f"  requests/s         {rate:.1f}  baseline (short run, {baseline['requests']} requests) "
        f"{base_rate:.1f}  ratio {rate / base_rate:.2f}",
        *[
            f"  NEW {key}: {detail.splitlines()[0]}"
            for key, detail in long["failures"].items()
            if key not in known
        ],
        *[f"  LEAK {key}: {detail}" for key, detail in long["cross_unit_reads"].items()],
    ]


if __name__ == "__main__":
    print("\n".join(run(int(sys.argv[1]) if len(sys.argv) > 1 else None)))
