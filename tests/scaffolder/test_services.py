"""Actions as data: shipped golden paths loaded idempotently, definitions posted through the API checked like any
hostile input, and team membership read from the catalog."""

import json

import pytest
from django.core.management import call_command

from rbac.models import AuditEvent
from scaffolder.models import Action
from scaffolder.services import ScaffolderError, action_create_from_text, actions_sync_shipped, user_team_refs

pytestmark = pytest.mark.django_db

ALIAS_BOMB = """
apiVersion: portico.dev/v1
kind: Action
metadata: {name: bomb}
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
spec: {blueprint: Component, operation: create, steps: [], x: *f}
"""


def test_load_actions_is_idempotent(capsys):
    call_command("load_actions")
    assert "6 shipped actions" in capsys.readouterr().out
    events = AuditEvent.objects.count()
    actions_sync_shipped()
    assert AuditEvent.objects.count() == events, "unchanged definitions write nothing"
    assert set(Action.objects.values_list("operation", flat=True)) == {"create", "day-2", "delete"}
    assert Action.objects.get(identifier="delete-service").approval_required


def test_posted_definitions_are_checked(admin_user, shipped_actions):
    with pytest.raises(ScaffolderError, match="aliases are expanded"):
        action_create_from_text(actor=admin_user, text=ALIAS_BOMB)
    with pytest.raises(ScaffolderError, match="not valid YAML"):
        action_create_from_text(actor=admin_user, text="spec: [unclosed")
    shipped = shipped_actions["python-service"].definition
    with pytest.raises(ScaffolderError, match="exists already"):
        action_create_from_text(actor=admin_user, text=json.dumps(shipped))
    unknown_blueprint = json.dumps(
        {**shipped, "metadata": {"name": "x"}, "spec": {**shipped["spec"], "blueprint": "Nope"}}
    )
    with pytest.raises(ScaffolderError, match="blueprint 'Nope'"):
        action_create_from_text(actor=admin_user, text=unknown_blueprint)


def test_team_membership_comes_from_the_catalog(member, team):
    assert user_team_refs(member) == {"group:default/team-a"}
