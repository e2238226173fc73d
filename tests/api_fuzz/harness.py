"""Schemathesis against the committed OpenAPI document (reliability.md AC-3), in process through WSGI.

Every operation is fed generated requests (valid and invalid parameters and bodies) with an API token
of a role drawn for each request, in the world of tests/access/test_cross_unit.py: two business units
whose unit-B records carry MARKER in their names. Each response is checked by all of schemathesis's
checks (no 5xx, status codes, content types and bodies as documented) and, for a user of unit A, for
MARKER: a unit-A token must never read a unit-B name. Each request runs in a savepoint rolled back
afterwards, so a delete cannot empty the world for the requests after it and the run is repeatable.
Then the stateful phase chains operations through the links schemathesis infers (create, then read,
change and delete what was created).

`run` collects failures instead of stopping at the first, so one run reports them all.
"""

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from guanxi.accounts import actions as account_actions
from guanxi.accounts.models import ApiToken
from guanxi.accounts.roles import ALL_UNIT_ROLES, Role
from guanxi.config.wsgi import application

# A request the schema allows may still break a business rule the schema cannot say (a purpose that
# is not one of the unit's, a rule tree that is empty): the API answers 400/422 problems for those,
# which positive_data_acceptance counts as failures. Every other check runs.
EXCLUDED_CHECKS = [positive_data_acceptance]
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"


@dataclass(frozen=True)
class Caller:
    role: str
    token: str
    unit_scoped: bool  # sees unit A only: must never read the marker


@dataclass
class Report:
    requests: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # "METHOD /path [check]" -> first example
    leaks: dict[str, str] = field(default_factory=dict)
    operations: set[str] = field(default_factory=set)  # "METHOD /path" of every operation requested

    def fail(self, key: str, detail: str) -> None:
        self.failures.setdefault(key, detail[:2000])


def callers(unit_a, make_user) -> list[Caller]:
    """A read-write token for a user of every role: unit roles in unit A, group roles for all."""
    made = []
    for role in Role:
        scoped = role not in ALL_UNIT_ROLES
        user = make_user(f"fuzz_{role}", role, [unit_a] if scoped else [], can_view_pii=True, can_export=True)
        issued = account_actions.create_api_token(user=user, name="fuzz", scope=ApiToken.Scope.READ_WRITE)
        made.append(Caller(role=str(role), token=issued.secret, unit_scoped=scoped))
    return made


def documented_operations() -> set[str]:
    """ "METHOD /path" of every operation in the committed document, read as plain JSON."""
    paths = json.loads(Path(SCHEMA_PATH).read_text(encoding="utf-8"))["paths"]
    return {f"{method.upper()} {path}" for path, methods in paths.items() for method in methods}


def load_schema() -> Any:
    schema = schemathesis.openapi.from_path(SCHEMA_PATH)
    schema.app = application
    return schema


@contextmanager
def connection_kept() -> Iterator[None]:
    """Requests go straight to the WSGI application, whose request signals would close the test's
    database connection (and its transaction) after each one; Django's test client unhooks them the
    same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _hypothesis(examples: int, stateful: bool = False) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,  # the same requests every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate] if not stateful else [Phase.generate],
        suppress_health_check=list(HealthCheck),
        stateful_step_count=6,
    )


def _key(case: Any, check: str = "") -> str:
    return f"{case.method.upper()} {case.operation.path}" + (f" [{check}]" if check else "")


def _auth(caller: Caller) -> dict[str, str]:
    return {"Authorization": f"Bearer {caller.token}"}


def _call(case: Any, caller: Caller, report: Report, marker: str) -> Any:
    report.requests += 1
    report.operations.add(_key(case))
    response = case.call(headers=_auth(caller))
    report.statuses[response.status_code] += 1
    if caller.unit_scoped and marker.lower() in response.text.lower():
        report.leaks.setdefault(_key(case), f"{caller.role}: {case.as_curl_command()}")
    return response


def _validate(case: Any, response: Any, caller: Caller, report: Report) -> None:
    try:
        # The token passed as the request's own header: checks such as ignored_auth then know it is
        # real and probe the operation without it and with a wrong one.
        case.validate_response(response, headers=_auth(caller), excluded_checks=EXCLUDED_CHECKS)
    except FailureGroup as group:  # every failed check of this response
        for failure in group.exceptions:
            report.fail(
                _key(case, type(failure).__name__), f"{caller.role}: {case.as_curl_command()}\n{failure}"
            )
    except AssertionError as error:
        report.fail(_key(case, type(error).__name__), f"{caller.role}: {case.as_curl_command()}\n{error}")


def shard() -> tuple[int, int]:
    """(this run's index, how many runs): GUANXI_FUZZ_SHARD="1/2" fuzzes every second operation and
    caller, so the long run can use every core in separate processes."""
    index, count = os.environ.get("GUANXI_FUZZ_SHARD", "0/1").split("/")
    return int(index), int(count)


def run_stateless(schema: Any, people: list[Caller], marker: str, examples: int, report: Report) -> None:
    began = time.monotonic()
    index, count = shard()
    for number, result in enumerate(schema.get_all_operations()):
        if number % count != index:
            continue
        operation = result.ok()

        @_hypothesis(examples)
        @given(case=operation.as_strategy(), caller=st.sampled_from(people))
        def fuzz(case: Any, caller: Caller) -> None:
            with transaction.atomic():
                _validate(case, _call(case, caller, report, marker), caller, report)
                transaction.set_rollback(True)

        fuzz()
    report.seconds += time.monotonic() - began


def run_stateful(schema: Any, people: list[Caller], marker: str, scenarios: int, report: Report) -> None:
    """Scenarios of calls linked by the ids one response gives the next request (schemathesis infers
    the links), for each caller in turn, each scenario rolled back at its end (so every replay that
    hypothesis makes starts from the same world)."""
    began = time.monotonic()
    index, count = shard()
    per_caller = max(1, scenarios // len(people))
    for caller in people[index::count]:

        class Machine(schema.as_state_machine()):  # type: ignore[misc]
            who = caller

            def setup(self) -> None:
                self.savepoint = transaction.atomic()
                self.savepoint.__enter__()

            def teardown(self) -> None:
                transaction.set_rollback(True)
                self.savepoint.__exit__(None, None, None)

            def call(self, case: Any, **kwargs: Any) -> Any:
                return _call(case, self.who, report, marker)

            def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
                _validate(case, response, self.who, report)

        Machine.run(settings=_hypothesis(per_caller, stateful=True))
    report.seconds += time.monotonic() - began


def summary(report: Report) -> dict[str, Any]:
    return {
        "requests": report.requests,
        "seconds": round(report.seconds, 1),
        "server_errors": sum(count for status, count in report.statuses.items() if status >= 500),
        "statuses": dict(sorted(report.statuses.items())),
        "failures": report.failures,
        "cross_unit_reads": report.leaks,
    }


def dump(report: Report, path: Path) -> None:
    path.write_text(json.dumps(summary(report), indent=2, ensure_ascii=False))
