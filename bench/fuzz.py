"""The long API fuzz run (reliability.md AC-3): ≥ 50,000 schemathesis requests against the committed
OpenAPI document, every operation, the stateful phase on, an API token of every role, in the two-unit
world of the cross-unit test. Figures: requests, server errors, schema violations (beside the ones the
short run lists as known), cross-unit reads, and requests per second beside the baseline: the short
run of `make test` (3 examples per operation) measured first in the same invocation.

Runs tests/api_fuzz through pytest on SQLite (in memory) in child processes, so it needs a source
checkout and the dev requirements: the short run in one, the long run in one per core, each fuzzing
its share of the operations and callers (GUANXI_FUZZ_SHARD), their figures added up. Requests per
second are over the wall-clock time, so the ratio includes that parallelism. `guanxi bench fuzz [--customers N]` targets N requests instead
of 50,000 (the option's name is shared by every bench).
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 50_000
OPERATIONS = 129
SCENARIOS_PER_1000 = 4  # stateful scenarios per thousand stateless requests


def _start(examples: int, scenarios: int, home: str, shard: str) -> tuple[subprocess.Popen, Path]:
    report = Path(home) / f"report-{shard.replace('/', '-')}.json"
    environment = {
        **os.environ,
        "GUANXI_HOME": tempfile.mkdtemp(dir=home),
        "GUANXI_FUZZ_EXAMPLES": str(examples),
        "GUANXI_FUZZ_SCENARIOS": str(scenarios),
        "GUANXI_FUZZ_REPORT": str(report),
        "GUANXI_FUZZ_SHARD": shard,
        # Every request should reach its operation: at this pace the callers' tokens would pass the
        # per-minute limit and a quarter of the run would be 429s (the limit has its own tests).
        "API_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    environment.pop("TEST_DATABASE_URL", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/api_fuzz"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return child, report


def _fuzz(examples: int, scenarios: int, shards: int = 1) -> dict:
    """One run split over `shards` processes (each a share of the operations and callers); the figures
    added up, its seconds the wall-clock time of the whole."""
    with tempfile.TemporaryDirectory(prefix="gx-bench-fuzz-") as home:
        began = time.monotonic()
        children = [_start(examples, scenarios, home, f"{i}/{shards}") for i in range(shards)]
        outputs = [child.communicate()[0] for child, _report in children]
        seconds = time.monotonic() - began
        merged: dict = {
            "requests": 0,
            "seconds": seconds,
            "shards": shards,
            "server_errors": 0,
            "statuses": {},
        }
        merged |= {"failures": {}, "cross_unit_reads": {}}
        for (_child, report), output in zip(children, outputs, strict=True):
            if not report.exists():
                raise RuntimeError(output[-6000:])
            part = json.loads(report.read_text())
            merged["requests"] += part["requests"]
            merged["server_errors"] += part["server_errors"]
            for status, count in part["statuses"].items():
                merged["statuses"][status] = merged["statuses"].get(status, 0) + count
            merged["failures"] |= part["failures"]
            merged["cross_unit_reads"] |= part["cross_unit_reads"]
        return merged


def run(customers: int | None = None) -> list[str]:
    target = customers or TARGET
    baseline = _fuzz(3, 18)
    examples = math.ceil(target / OPERATIONS)
    long = _fuzz(examples, max(18, target * SCENARIOS_PER_1000 // 1000), shards=os.cpu_count() or 1)
    known = set(baseline["failures"])
    rate = long["requests"] / long["seconds"]
    base_rate = baseline["requests"] / baseline["seconds"]
    return [
        f"API fuzz: {long['requests']:,} requests ({examples} examples per operation + stateful, "
        f"{long['shards']} processes) "
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
