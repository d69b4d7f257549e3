"""Staff menu and administration, by taps on the real app: lock and sign out from the top bar; an administrator
unlocks a locked-out colleague with a new PIN, adds an account, deactivates one, exports the audit log and sets the
retention delay; a nursing aide never sees the administration."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from sync import audit
from tests.support.ui import clipped_texts, LANDSCAPE, PORTRAIT, frames, make_runtime, running_app, screen, screenshot, \
    small_touch_targets, tap, type_into, wait_for
from tests.support.workflow import set_up_tablet

pytestmark = pytest.mark.timeout(90)

ADMIN_PIN = "975310"


def admin_runtime(tmp_path):
    runtime = make_runtime(tmp_path, signed_in=False)
    aide = set_up_tablet(runtime.store)
    admin = runtime.store.add_staff(display_name="Alex Admin", role="infirmier", pin=ADMIN_PIN, is_admin=True)
    for _ in range(5):  # the aide got her PIN wrong five times this morning
        runtime.store.verify_pin(aide, "0000")
    runtime.workflow.sign_in(admin, ADMIN_PIN)
    return runtime, aide, admin


async def open_menu(app):
    await tap(app.root.ids.topbar.ids.staff_button)
    await wait_for(lambda: app.root.ids.topbar.ids.staff_button.menu is not None, what="the staff menu")
    await frames(3)
    return app.root.ids.topbar.ids.staff_button.menu


def row_of(admin_screen, name: str):
    rows = [w for w in admin_screen.walk() if type(w).__name__ == "StaffRow" and w.name == name]
    assert rows, name
    return rows[0]


def button(row, text: str):
    return next(w for w in row.walk() if type(w).__name__ == "SecondaryButton" and w.text == text)


@pytest.mark.parametrize("size,tag", [(LANDSCAPE, "landscape"), (PORTRAIT, "portrait")])
async def test_an_administrator_manages_the_tablet_by_taps(tmp_path, size, tag):
    runtime, aide, admin = admin_runtime(tmp_path)
    async with running_app(runtime, size=size) as app:
        assert app.screen_manager.current == "patient"
        menu = await open_menu(app)
        assert menu.ids.who.text == "Alex Admin — Infirmier·ère" and menu.ids.admin.opacity == 1
        await screenshot(app, f"60-staff-menu-{tag}")
        await tap(menu.ids.admin)
        await wait_for(lambda: app.screen_manager.current == "admin", what="the administration screen")
        admin_screen = screen(app, "admin")
        await frames(3)
        camille = row_of(admin_screen, "Camille Soignante")
        assert "Bloqué·e" in [w for w in camille.walk() if type(w).__name__ == "Label"][1].text
        assert admin_screen.ids.audit_status.text.startswith("Journal d'audit intact")
        await screenshot(app, f"61-admin-{tag}")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []

        # a new PIN for the locked-out aide
        await tap(button(camille, "Nouveau PIN"))
        assert "Camille Soignante" in admin_screen.ids.pin_for.text
        await type_into(admin_screen.ids.reset_pin, "12")
        await tap(admin_screen.ids.save_pin)
        assert admin_screen.ids.error.text == "Le code PIN doit faire de 4 à 8 chiffres."
        await type_into(admin_screen.ids.reset_pin, "5555")
        await tap(admin_screen.ids.save_pin)
        assert admin_screen.ids.done.text == "Code PIN changé : le compte est débloqué."
        assert runtime.store.verify_pin(aide, "5555")

        # a new account, who may manage the tablet too
        await type_into(admin_screen.ids.new_name, "Lou Pharmacienne")
        await tap(next(b for b in admin_screen.ids.new_role.children if b.value == "pharmacien"))
        await tap(admin_screen.ids.new_admin)
        await type_into(admin_screen.ids.new_pin, "258013")
        await tap(admin_screen.ids.add_staff)
        assert admin_screen.ids.done.text == "Compte créé."
        await frames(3)
        lou = row_of(admin_screen, "Lou Pharmacienne")
        lou_id = lou.staff_id
        member = runtime.store.get_staff(lou_id)
        assert (member["role"], member["is_admin"]) == ("pharmacien", 1) and runtime.store.verify_pin(lou_id, "258013")
        await tap(button(lou, "Désactiver"))
        assert runtime.store.get_staff(lou_id)["active"] == 0
        assert lou_id not in [m["id"] for m in runtime.workflow.staff_members()]

        # the audit log and retention
        await tap(admin_screen.ids.export)
        exported = Path(admin_screen.ids.done.text.split("\n")[1])
        assert exported.parent == tmp_path / "exports" and exported.exists()
        rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
        assert rows[-1]["action"] == "export" and rows[-1]["staff_name"] == "Alex Admin"
        await tap(next(b for b in admin_screen.ids.retention_choice.children if b.value == "14"))
        assert runtime.store.get_setting("retention_days") == "14"
        assert admin_screen.ids.retention.text == \
            "Les séances quittent la tablette 14 jours après confirmation par le serveur."
        await screenshot(app, f"62-admin-done-{tag}")
        trail = [(r["staff_id"], r["action"], r["subject_id"]) for r in audit.rows(runtime.store)]
        assert (admin, "change", aide) in trail and (admin, "create", lou_id) in trail

        await tap(admin_screen.ids.back)
        await wait_for(lambda: app.screen_manager.current == "patient", what="back to the patients")


async def test_staff_menu_locks_and_signs_out_and_an_aide_has_no_administration(tmp_path):
    runtime = make_runtime(tmp_path)  # the nursing aide is signed in
    async with running_app(runtime, size=LANDSCAPE, lang="en") as app:
        menu = await open_menu(app)
        assert menu.ids.admin.opacity == 0 and menu.ids.admin.disabled
        assert menu.ids.lock.text == "Lock the screen"
        await tap(menu.ids.lock)
        await wait_for(lambda: app.screen_manager.current == "signin", what="the PIN pad")
        assert runtime.workflow.state.locked and runtime.workflow.state.step == "patient"
        assert app.root.ids.topbar.ids.staff_button.opacity == 0  # nobody's name while locked
        runtime.workflow.sign_in(runtime.workflow.staff_members()[0]["id"], "2468")
        await wait_for(lambda: app.screen_manager.current == "patient", what="unlocked")
        menu = await open_menu(app)
        await tap(menu.ids.sign_out)
        await wait_for(lambda: app.screen_manager.current == "signin" and runtime.workflow.state.staff is None,
                       what="signed out")
        actions = [r["action"] for r in audit.rows(runtime.store)]
        assert actions.count("sign_out") == 2  # the lock and the end of shift


async def test_a_lock_closes_any_open_pop_up(tmp_path):
    """The PIN pad covers everything: the staff menu (or the list of refused sessions, with patient names) does not
    stay open over it when the tablet locks itself."""
    runtime = make_runtime(tmp_path)
    async with running_app(runtime, size=LANDSCAPE) as app:
        menu = await open_menu(app)
        assert menu.parent is not None  # open
        runtime.workflow.lock()  # as the idle timer does
        await wait_for(lambda: app.screen_manager.current == "signin", what="the PIN pad")
        await frames(3)
        assert menu.parent is None


async def test_the_administration_screen_fits_in_english_portrait(tmp_path):
    runtime, _aide, _admin = admin_runtime(tmp_path)
    async with running_app(runtime, size=PORTRAIT, lang="en") as app:
        runtime.workflow.open_admin()
        await wait_for(lambda: app.screen_manager.current == "admin", what="the administration screen")
        await frames(3)
        admin_screen = screen(app, "admin")
        assert admin_screen.ids.audit_status.text.startswith("Audit log intact")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
        await screenshot(app, "63-admin-english-portrait")
