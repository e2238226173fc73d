"""Sales test data: two units, each with reps, a sales manager and a head, and a default pipeline."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from guanxi.accounts.models import BusinessUnit, User
from guanxi.accounts.roles import Role
from guanxi.sales.actions.configuration import create_pipeline
from guanxi.sales.models import Pipeline, Stage

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*parts: int, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


@dataclass
class Team:
    unit: BusinessUnit
    rep: User
    rep2: User
    manager: User
    head: User
    pipeline: Pipeline

    def stage(self, position: int) -> Stage:
        return self.pipeline.stages.order_by("position")[position]

    @property
    def won(self) -> Stage:
        return self.pipeline.stages.get(kind=Stage.Kind.WON)

    @property
    def lost(self) -> Stage:
        return self.pipeline.stages.get(kind=Stage.Kind.LOST)


def _team(make_user, unit: BusinessUnit, prefix: str) -> Team:
    return Team(
        unit=unit,
        rep=make_user(f"{prefix}_rep", Role.SALES_REP, [unit], display_name=f"{prefix} rep"),
        rep2=make_user(f"{prefix}_rep2", Role.SALES_REP, [unit], display_name=f"{prefix} rep two"),
        manager=make_user(f"{prefix}_manager", Role.SALES_MANAGER, [unit], display_name=f"{prefix} manager"),
        head=make_user(f"{prefix}_head", Role.UNIT_HEAD, [unit], display_name=f"{prefix} head"),
        pipeline=create_pipeline(unit=unit, name="B2B"),
    )


@pytest.fixture
def team_a(make_user, unit_a) -> Team:
    return _team(make_user, unit_a, "a")


@pytest.fixture
def team_b(make_user, unit_b) -> Team:
    return _team(make_user, unit_b, "b")
