"""An administrator's PIN has at least six digits: when an administrator is created, when their PIN is set or
reset. Someone made administrator with a shorter PIN (or an administrator from before the rule) signs in as
usual, and may administer only after choosing a longer PIN."""
from __future__ import annotations


from sync.store import Store
from sync.store.errors import InputError


def _refused(code: str):
    class Check:
        def __enter__(self):
            return self

        def __exit__(self, kind, exc, tb):
            assert isinstance(exc, InputError) and exc.code == code, exc
            return True
    return Check()


def test_an_administrator_is_created_and_reset_with_six_digits_at_least(tmp_path):
    with Store(tmp_path / "relais.db") as store:
        with _refused("pin.admin.too_short"):
            store.add_staff(display_name="Alex Admin", role="administrateur", pin="97531")
        with _refused("pin.admin.too_short"):
            store.add_staff(display_name="Alex Admin", role="infirmier", pin="9753", is_admin=True)
        admin = store.add_staff(display_name="Alex Admin", role="infirmier", pin="975310", is_admin=True)
        aide = store.add_staff(display_name="Lou Aide", role="aide_soignant", pin="1357")  # 4 digits: fine
        with _refused("pin.admin.too_short"):
            store.set_pin(admin, "2468")
        second = store.add_staff(display_name="Sam Admin", role="administrateur", pin="444444")
        with _refused("pin.admin.too_short"):
            store.reset_pin(admin, second, "4444")
        store.reset_pin(admin, aide, "2468")
        store.reset_pin(admin, second, "44445555")
        assert store.verify_pin(second, "44445555") and store.verify_pin(aide, "2468")


def test_promoted_with_a_short_pin_means_a_longer_pin_before_administering(tmp_path):
    with Store(tmp_path / "relais.db") as store:
        admin = store.add_staff(display_name="Alex Admin", role="infirmier", pin="975310", is_admin=True)
        lou = store.add_staff(display_name="Lou Aide", role="aide_soignant", pin="1357")
        store.set_staff_admin(lou, True)
        assert store.verify_pin(lou, "1357")  # signs in as before
        with _refused("pin.admin.choose_longer"):
            store.reset_pin(lou, admin, "123456")
        with _refused("pin.admin.choose_longer"):
            store.export_audit_csv(lou)
        with _refused("pin.admin.too_short"):
            store.set_pin(lou, "2468")
        store.set_pin(lou, "135790")
        store.export_audit_csv(lou)


def test_an_administrator_from_before_the_rule_is_asked_until_a_long_pin_is_seen(tmp_path):
    with Store(tmp_path / "relais.db") as store:
        old = store.add_staff(display_name="Alex Admin", role="infirmier", pin="975310", is_admin=True)
        store.conn.execute("UPDATE staff SET pin_admin_ready = 0 WHERE id = ?", [old])  # as after the upgrade
        store.conn.commit()
        with _refused("pin.admin.choose_longer"):
            store.export_audit_csv(old)
        assert store.verify_pin(old, "975310")  # typing a PIN that is long enough shows it is
        store.export_audit_csv(old)
