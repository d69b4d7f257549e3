"""A PIN lock-out is elapsed time on the boot clock: moving the wall clock forward does not end it, a reboot
starts it again in full, and only the boot clock's own time running out ends it."""
from __future__ import annotations

import datetime as dt

import pytest

from sync.store import PIN_ATTEMPTS, PIN_LOCK_FIRST_SECONDS, PinLockedError, Store
from sync.store.uptime import BootReading, boot_reading, elapsed
from tests.support.clocks import SettableClock

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)


class BootClock:
    """The boot id and seconds since boot, moved by the test."""

    def __init__(self) -> None:
        self.boot, self.seconds = "boot-1", 1000.0

    def __call__(self) -> BootReading:
        return BootReading(self.boot, self.seconds)


@pytest.fixture
def tablet(tmp_path):
    clock, boot = SettableClock(START), BootClock()
    with Store(tmp_path / "relais.db", clock=clock) as store:
        store.uptime = boot
        staff_id = store.add_staff(display_name="Inès Démo", role="infirmier", pin="2468")
        for _ in range(PIN_ATTEMPTS):
            assert store.verify_pin(staff_id, "0000") is False
        yield store, staff_id, clock, boot


def test_moving_the_wall_clock_forward_does_not_end_a_lock_out(tablet):
    store, staff_id, clock, boot = tablet
    clock.advance(2 * 3600)  # the date set two hours ahead
    with pytest.raises(PinLockedError) as locked:
        store.verify_pin(staff_id, "2468")
    assert locked.value.params["seconds"] == PIN_LOCK_FIRST_SECONDS
    boot.seconds += PIN_LOCK_FIRST_SECONDS - 1
    with pytest.raises(PinLockedError) as locked:
        store.verify_pin(staff_id, "2468")
    assert locked.value.params["seconds"] == 1
    boot.seconds += 1  # the lock-out's own time, measured since boot
    assert store.verify_pin(staff_id, "2468")


def test_a_reboot_starts_the_lock_out_again_in_full(tablet):
    store, staff_id, clock, boot = tablet
    boot.seconds += PIN_LOCK_FIRST_SECONDS - 5
    boot.boot, boot.seconds = "boot-2", 12.0  # restarted: the time since the lock-out is unknown
    clock.advance(3600)
    with pytest.raises(PinLockedError) as locked:
        store.verify_pin(staff_id, "2468")
    assert locked.value.params["seconds"] == PIN_LOCK_FIRST_SECONDS
    boot.seconds += PIN_LOCK_FIRST_SECONDS - 1  # the restart was kept: counted from the first try after boot
    with pytest.raises(PinLockedError):
        store.verify_pin(staff_id, "2468")
    boot.seconds += 1
    assert store.verify_pin(staff_id, "2468")


def test_without_a_boot_id_the_wall_clock_is_used(tablet):
    store, staff_id, clock, boot = tablet
    store.uptime = lambda: BootReading(None, 5.0)
    with pytest.raises(PinLockedError):
        store.verify_pin(staff_id, "2468")
    clock.advance(PIN_LOCK_FIRST_SECONDS + 1)
    assert store.verify_pin(staff_id, "2468")


def test_this_machine_names_its_boot_and_its_boot_clock_runs():
    first, second = boot_reading(), boot_reading()
    assert elapsed(first, second) is not None and elapsed(first, second) >= 0
    assert elapsed(first, BootReading("another boot", second.seconds)) is None


def test_the_administrators_list_shows_the_lock_out_as_the_pin_pad_finds_it(tablet):
    store, staff_id, clock, boot = tablet
    clock.advance(2 * 3600)
    assert store.pin_locked(staff_id)  # the date moved on: still locked, as the PIN pad says
    boot.seconds += PIN_LOCK_FIRST_SECONDS
    assert not store.pin_locked(staff_id)
