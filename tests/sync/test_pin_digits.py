"""A PIN is ASCII digits only: the same number written in fullwidth or other scripts' digits is refused when set,
and counts as a wrong PIN at sign-in, even when it is what was stored before the rule (a PIN set that way by an
earlier version must be given again by an administrator)."""
from __future__ import annotations

import hashlib

import pytest

from sync.store import Store
from sync.store.errors import InputError
from sync.store.pins import hash_pin


@pytest.mark.parametrize("pin", ["１２３４", "١٢٣٤", "१२३४", "12３4"])
def test_a_pin_of_other_digits_is_refused_when_set(tmp_path, pin):
    with Store(tmp_path / "s.db") as store:
        staff_id = store.add_staff(display_name="Inès Démo", role="infirmier", pin="2468")
        with pytest.raises(InputError) as refused:
            store.set_pin(staff_id, pin)
        assert refused.value.code == "pin.format"
        assert store.verify_pin(staff_id, "2468")  # the old PIN still stands


def test_other_digits_never_sign_in_and_count_as_a_wrong_pin(tmp_path):
    with Store(tmp_path / "s.db") as store:
        staff_id = store.add_staff(display_name="Inès Démo", role="infirmier", pin="1234")
        assert store.verify_pin(staff_id, "１２３４") is False
        assert store.get_staff(staff_id)["pin_failures"] == 1
        # a PIN stored in fullwidth digits by an earlier version no longer opens the account either
        legacy = "scrypt$16384$8$1$" + "00" * 16 + "$" + hashlib.scrypt(
            "５６７８".encode(), salt=bytes(16), n=16384, r=8, p=1, dklen=32).hex()
        store.conn.execute("UPDATE staff SET pin_hash = ? WHERE id = ?", [legacy, staff_id])
        store.conn.commit()
        assert store.verify_pin(staff_id, "５６７８") is False


def test_ascii_digits_still_work():
    assert hash_pin("0042").startswith("scrypt$")
