"""The tablet's device kit through the workflow and the real runtime (real store, simulated devices over bleak):
the runtime pairs its own simulated devices at first start and never the neighbour's; a reading with the
neighbour's thermometer in range is stored from the kit's; with only the neighbour's, the reading is refused as
not paired; an administrator searches, pairs and removes devices, each change in the audit log; nobody else may."""
from __future__ import annotations

import json

import pytest

from mobile.runtime import AppRuntime, RuntimeConfig
from mobile.simulation import NEIGHBOURS, OWN_KIT
from mobile.workflow.kit import KIT_SETTING, kit_entries
from mobile.messages import error_text
from sync import audit
from tests.support.workflow import DEMO, PIN, begin, close_session, refused, set_up_tablet

pytestmark = pytest.mark.timeout(60)

OUR_THERMOMETER, NEIGHBOURS_THERMOMETER = OWN_KIT[0], NEIGHBOURS[0]


def kit_rows(store) -> list[dict]:
    return [r for r in audit.rows(store) if r["subject_kind"] == "setting" and r["subject_id"] == KIT_SETTING]


async def test_first_start_pairs_the_tablets_own_simulated_devices_once(tmp_path):
    runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db", foreign_devices=("thermometer",)))
    entries = kit_entries(runtime.store)
    assert [(e["kind"], e["address"], e["serial"]) for e in entries] == [
        ("thermometer", "C0:DE:00:00:01:01", "SIM-THERMO-0001"), ("oximeter", "C0:DE:00:00:01:02", "SIM-OXY-0001"),
        ("blood_pressure", "C0:DE:00:00:01:03", "SIM-BPM-0001")]
    [row] = kit_rows(runtime.store)
    assert (row["action"], row["detail"], row["staff_id"]) == ("change", "paired the simulated devices", None)
    # an administrator empties the kit on purpose: the next start leaves it empty
    runtime.store.set_setting(KIT_SETTING, "[]", "removed everything")
    runtime.store.close()
    again = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db"))
    try:
        assert kit_entries(again.store) == [] and len(kit_rows(again.store)) == 2
    finally:
        again.store.close()


async def test_with_the_neighbours_thermometer_in_range_the_value_stored_is_the_kits(tmp_path):
    runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db", foreign_devices=("thermometer",)))
    await runtime.start()
    try:
        names = [d.name for d in runtime.simulated]
        assert names[0] == "Relais Thermo 2" and "Relais Thermo" in names     # the neighbour's advertises first
        wf = runtime.workflow
        begin(wf, DEMO)
        proposal = await wf.measure_temperature()
        assert proposal is not None, wf.state.error
        session_id = close_session(wf)
        [row] = [m for m in runtime.store.measurements(session_id) if m["code"] == "8310-5"]
        assert (row["device_address"], row["device_serial"]) == (OUR_THERMOMETER.address, "SIM-THERMO-0001")
    finally:
        await runtime.stop()


async def test_only_the_neighbours_thermometer_in_range_refuses_the_reading(tmp_path):
    runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db", foreign_devices=("thermometer",),
                                       devices_off=("thermometer",)))
    await runtime.start()
    try:
        wf = runtime.workflow
        begin(wf, DEMO)
        assert await wf.measure_temperature() is None
        error = wf.state.error
        assert error.code == "measure.not_in_kit" and wf.state.proposal is None
        assert error_text(error, "fr").startswith("Appareil non associé à cette tablette : le thermomètre à portée")
        assert error_text(error, "en").startswith("Device not paired with this tablet: the thermometer in range")
        neighbour = runtime.simulated[0]
        assert neighbour.name == "Relais Thermo 2" and neighbour.subscriptions == []
    finally:
        await runtime.stop()


async def test_an_empty_kit_says_no_device_is_paired(tmp_path):
    runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db"))
    runtime.store.set_setting(KIT_SETTING, "[]")
    await runtime.start()
    try:
        wf = runtime.workflow
        begin(wf, DEMO)
        assert await wf.measure("oximeter") is None
        assert wf.state.error.code == "measure.none_paired"
        assert error_text(wf.state.error, "fr").startswith("Aucun appareil de ce type n'est associé à cette tablette.")
    finally:
        await runtime.stop()


def admin_runtime(tmp_path, **config) -> tuple[AppRuntime, str, str]:
    runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db", **config))
    aide = set_up_tablet(runtime.store)
    admin = runtime.store.add_staff(display_name="Alex Admin", role="infirmier", pin="975310", is_admin=True)
    return runtime, aide, admin


async def test_an_administrator_searches_pairs_and_removes_each_change_traced(tmp_path):
    runtime, _aide, admin = admin_runtime(tmp_path, foreign_devices=("thermometer",))
    await runtime.start()
    try:
        wf = runtime.workflow
        wf.sign_in(admin, "975310")
        wf.open_admin()
        wf.open_devices()
        assert wf.state.step == "devices"
        found = await wf.scan_devices()
        summary = {(f["name"], f["serial"], f["rssi"], f["in_kit"]) for f in found}
        assert summary == {("Relais Thermo 2", "SIM-THERMO-0002", -86, False),
                           ("Relais Thermo", "SIM-THERMO-0001", -50, True),
                           ("Relais Oxy", "SIM-OXY-0001", -50, True), ("Relais Tensio", "SIM-BPM-0001", -50, True)}
        with refused("admin.device_in_kit"):
            await wf.pair_device(OUR_THERMOMETER.address)
        entry = await wf.pair_device(NEIGHBOURS_THERMOMETER.address)
        assert (entry["kind"], entry["model"], entry["serial"]) == ("thermometer", "SIM-THERMO-1", "SIM-THERMO-0002")
        assert runtime.radio.paired == [NEIGHBOURS_THERMOMETER.address]      # bonded through the transport
        assert [e["serial"] for e in wf.device_kit() if e["kind"] == "thermometer"] == \
            ["SIM-THERMO-0001", "SIM-THERMO-0002"]                             # a spare of the same kind
        wf.remove_from_kit(OUR_THERMOMETER.address)
        with refused("admin.device_not_in_kit"):
            wf.remove_from_kit(OUR_THERMOMETER.address)
        rows = kit_rows(runtime.store)
        assert [(r["detail"], r["staff_id"]) for r in rows[1:]] == [
            ("paired thermometer SIM-THERMO-0002", admin), ("removed thermometer SIM-THERMO-0001", admin)]
        assert audit.verify(runtime.store).ok
        stored = json.loads(runtime.store.get_setting(KIT_SETTING))
        assert [e["address"] for e in stored if e["kind"] == "thermometer"] == [NEIGHBOURS_THERMOMETER.address]
        wf.close_devices()
        assert wf.state.step == "admin"
    finally:
        await runtime.stop()


async def test_only_administrators_see_or_change_the_kit(tmp_path):
    runtime, aide, _admin = admin_runtime(tmp_path)
    await runtime.start()
    try:
        wf = runtime.workflow
        wf.sign_in(aide, PIN)
        before = runtime.store.get_setting(KIT_SETTING)
        for action in (wf.open_devices, wf.device_kit, lambda: wf.remove_from_kit(OUR_THERMOMETER.address)):
            with refused("auth.admin_only"):
                action()
        with refused("auth.admin_only"):
            await wf.scan_devices()
        with refused("auth.admin_only"):
            await wf.pair_device(NEIGHBOURS_THERMOMETER.address)
        assert runtime.store.get_setting(KIT_SETTING) == before and runtime.radio.paired == []
    finally:
        await runtime.stop()
