"""Whose owned records restrict() shows: a sales rep their own; a sales manager their own, their
team's (the reps of their units) and the unowned ones; everyone else every owner's."""

import pytest

from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer
from guanxi.customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user, unit_a, unit_b):
    return {
        "rep": make_user("rep", Role.SALES_REP, [unit_a]),
        "rep2": make_user("rep2", Role.SALES_REP, [unit_a]),
        "rep_b": make_user("rep_b", Role.SALES_REP, [unit_b]),
        "lead": make_user("lead", Role.SALES_MANAGER, [unit_a]),
        "lead2": make_user("lead2", Role.SALES_MANAGER, [unit_a]),
        "head": make_user("head", Role.UNIT_HEAD, [unit_a]),
    }


@pytest.fixture
def owned(people, unit_a):
    """One customer of unit A per owner, and one nobody owns."""
    rows = {name: make_customer(name, [unit_a], owner=user) for name, user in people.items()}
    rows["nobody"] = make_customer("nobody", [unit_a])
    return rows


def visible(user) -> set[str]:
    return set(Customer.objects.restrict(user, "view").values_list("name", flat=True))


def test_a_rep_sees_only_their_own(people, owned):
    assert visible(people["rep"]) == {"rep"}


def test_a_sales_manager_sees_their_team_and_the_pool(people, owned):
    assert visible(people["lead"]) == {"lead", "rep", "rep2", "nobody"}


def test_a_unit_head_sees_every_owner_in_the_unit(people, owned):
    assert visible(people["head"]) == {"rep", "rep2", "lead", "lead2", "head", "nobody", "rep_b"}


def test_a_team_is_the_reps_of_the_managers_units(people, make_user, unit_a, unit_b):
    make_customer("shared, unit A rep's", [unit_a, unit_b], owner=people["rep"])
    make_customer("unit B rep's", [unit_b], owner=people["rep_b"])
    manager_b = make_user("lead_b", Role.SALES_MANAGER, [unit_b])

    assert visible(manager_b) == {"unit B rep's"}
