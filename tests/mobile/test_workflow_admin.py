"""Administration in the plain-Python workflow: only an administrator manages staff, resets a PIN, exports the
audit log and sets the retention delay; never in the middle of a session; the tablet always keeps an administrator."""
from __future__ import annotations

import csv
import io

import pytest

from mobile.workflow import SessionWorkflow, WorkflowError
from sync import audit
from sync.store import Store
from tests.support.workflow import DEMO, NOW, ScriptedThermometer
from tests.support.workflow import PIN, begin, refused, refused_by_store, set_up_tablet

ADMIN_PIN = "975310"


@pytest.fixture
def ids(store):
    aide = set_up_tablet(store)
    admin = store.add_staff(display_name="Alex Admin", role="administrateur", pin=ADMIN_PIN)
    return {"aide": aide, "admin": admin}


def make(store):
    return SessionWorkflow(store, ScriptedThermometer(), clock=lambda: NOW)


def test_only_an_administrator_opens_administration(store, ids):
    wf = make(store)
    with refused("auth.sign_in_first"):
        wf.open_admin()
    wf.sign_in(ids["aide"], PIN)
    for action in (wf.open_admin, wf.staff_overview, lambda: wf.reset_staff_pin(ids["admin"], "1111"),
                   lambda: wf.add_staff_member(display_name="X", role="infirmier", pin="1234"),
                   lambda: wf.set_staff_active(ids["admin"], False), wf.audit_check,
                   lambda: wf.set_retention_days(3)):
        with refused("auth.admin_only"):
            action()
    assert store.verify_pin(ids["admin"], ADMIN_PIN)  # nothing changed


def test_not_in_the_middle_of_a_session(store, ids):
    wf = make(store)
    wf.sign_in(ids["admin"], ADMIN_PIN)
    begin(wf, DEMO)
    with refused("session.finish_or_abandon_first"):
        wf.open_admin()
    wf.abandon()
    wf.open_admin()
    assert wf.state.step == "admin"
    wf.close_admin()
    assert wf.state.step == "patient"


def test_an_administrator_manages_staff_and_unlocks_a_colleague(store, ids):
    wf = make(store)
    for _ in range(5):
        assert not store.verify_pin(ids["aide"], "0000")
    wf.sign_in(ids["admin"], ADMIN_PIN)
    wf.open_admin()
    aide = next(m for m in wf.staff_overview() if m["id"] == ids["aide"])
    assert aide["locked"] and aide["active"] and aide["has_pin"] and "pin_hash" not in aide
    wf.reset_staff_pin(ids["aide"], "5555")
    assert not next(m for m in wf.staff_overview() if m["id"] == ids["aide"])["locked"]
    assert store.verify_pin(ids["aide"], "5555")
    with refused_by_store("Le code PIN doit faire de 4 à 8 chiffres"):
        wf.reset_staff_pin(ids["aide"], "12")
    new = wf.add_staff_member(display_name="Lou Pharmacienne", role="pharmacien", pin="2580")
    assert store.verify_pin(new, "2580")
    with pytest.raises(WorkflowError):
        wf.add_staff_member(display_name="", role="pharmacien", pin="2580")
    wf.set_staff_active(new, False)
    assert new not in [m["id"] for m in wf.staff_members()]  # can no longer sign in
    wf.set_staff_active(new, True)
    assert new in [m["id"] for m in wf.staff_members()]
    trail = [(r["staff_id"], r["action"], r["subject_id"], r["detail"]) for r in audit.rows(store)]
    assert (ids["admin"], "change", ids["aide"], "pin reset by administrator") in trail
    assert (ids["admin"], "create", new, "role pharmacien") in trail
    assert (ids["admin"], "change", new, "deactivated") in trail


def test_the_tablet_always_keeps_an_administrator(store, ids):
    wf = make(store)
    wf.sign_in(ids["admin"], ADMIN_PIN)
    with refused("admin.last_administrator"):
        wf.set_staff_active(ids["admin"], False)
    second = wf.add_staff_member(display_name="Sam Admin", role="administrateur", pin="444444")
    with refused("admin.own_account"):
        wf.set_staff_active(ids["admin"], False)
    wf.set_staff_active(second, False)  # another administrator may go


def test_export_and_retention_setting(store, ids, tmp_path):
    wf = make(store)
    wf.sign_in(ids["admin"], ADMIN_PIN)
    assert wf.audit_check().ok
    path = wf.export_audit(tmp_path / "exports")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[-1]["action"] == "export" and rows[-1]["staff_name"] == "Alex Admin"
    assert path.name.startswith("journal-audit-") and path.suffix == ".csv"
    assert wf.retention_days == 7
    wf.set_retention_days(3)
    assert wf.retention_days == 3
    for bad in (0, 31, "7"):
        with refused("admin.retention_range"):
            wf.set_retention_days(bad)


def test_administering_is_a_right_not_a_profession(tmp_path):
    with Store(tmp_path / "relais.db", clock=lambda: NOW) as store:
        wf = make(store)
        wf.setup_site(kind="pharmacie", name="Pharmacie du Port", first_staff_name="Hugo Pharmacien",
                      first_staff_role="pharmacien", first_staff_pin="258013")
        (hugo,) = wf.staff_overview()  # the person who set the tablet up manages it, and stays a pharmacist
        assert (hugo["role"], hugo["is_admin"]) == ("pharmacien", True)
        lou = wf.add_staff_member(display_name="Lou Préparatrice", role="assistant_medical", pin="1357")
        with refused("admin.own_rights"):
            wf.set_staff_admin(hugo["id"], False)
        wf.set_staff_admin(lou, True)
        wf.sign_out()
        wf.sign_in(lou, "1357")
        wf.open_admin()  # promoted with a 4-digit PIN: a longer one first, then administering
        assert wf.own_pin_needed()
        with refused("pin.admin.choose_longer"):
            wf.set_staff_admin(hugo["id"], False)
        with refused("pin.admin.too_short"):
            wf.change_own_pin("2468")
        wf.change_own_pin("135790")
        assert not wf.own_pin_needed()
        wf.set_staff_admin(hugo["id"], False)  # another administrator may withdraw it
        with refused("admin.own_rights"):
            wf.set_staff_admin(lou, False)
        wf.sign_out()
        wf.sign_in(hugo["id"], "258013")
        with refused("auth.admin_only"):
            wf.open_admin()
        assert [r["detail"] for r in audit.rows(store) if r["action"] == "change" and r["subject_kind"] == "staff"
                and "admin" in (r["detail"] or "")] == ["admin granted", "admin withdrawn"]
