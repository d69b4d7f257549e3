"""The device kit on screen, by taps on the real app: a reading with only the neighbour's thermometer in range says
'appareil non associé à cette tablette' and shows no value; an administrator opens "Devices of this tablet" from
the administration, searches, sees each device's name, model, serial and signal (those of the kit marked), pairs
the neighbour's and removes one. French and English, landscape and portrait."""
from __future__ import annotations

import pytest

from devices.limits import WaitLimits

from mobile.i18n import tr
from mobile.simulation import NEIGHBOURS, OWN_KIT
from mobile.workflow.kit import kit_entries
from tests.support.ui import LANDSCAPE, PORTRAIT, begin_session, clipped_texts, frames, make_runtime, running_app, \
    screen, screenshot, small_touch_targets, tap, wait_for
from tests.support.workflow import set_up_tablet

pytestmark = pytest.mark.timeout(90)

DEMO = dict(family_name="DÉMO", given_name="Paul", birth_date="1931-11-05", sex="M", birth_place_insee="69123")
SIZES = [(LANDSCAPE, "landscape"), (PORTRAIT, "portrait")]


async def check_layout(app) -> None:
    assert small_touch_targets(app) == []
    assert clipped_texts(app) == []


@pytest.mark.parametrize("size,tag", SIZES)
async def test_only_the_neighbours_thermometer_in_range_is_refused_on_screen(tmp_path, size, tag):
    runtime = make_runtime(tmp_path, foreign_devices=("thermometer",), devices_off=("thermometer",),
                           wait_limits=WaitLimits(scan=4.0))   # the refusal comes once the search has run out
    begin_session(runtime, DEMO)
    async with running_app(runtime, size=size) as app:
        measure = screen(app, "measure")
        await tap(measure.ids.measure)
        await wait_for(lambda: app.models.measure.device_state == "error", timeout=25, what="the refusal")
        await frames(3)
        assert app.screen_manager.current == "measure" and measure.ids.error_box.shown
        assert measure.ids.error_text.text.startswith(
            "Appareil non associé à cette tablette : le thermomètre à portée ne fait pas partie du kit")
        assert app.models.review.values == () and measure.ids.live_value.text == ""
        await screenshot(app, f"70-measure-not-in-kit-fr-{tag}")
        await check_layout(app)
        tr.switch_lang("en")
        await frames(3)
        assert measure.ids.error_text.text.startswith("Device not paired with this tablet: the thermometer in range")
        await screenshot(app, f"70-measure-not-in-kit-en-{tag}")
        await check_layout(app)
        assert runtime.simulated[0].subscriptions == []          # the neighbour's was never read


def rows(devices_screen, kind: str) -> list:
    return [w for w in devices_screen.walk() if type(w).__name__ == kind]


def found_row(devices_screen, address: str):
    return next(w for w in rows(devices_screen, "FoundRow") if w.address == address)


def row_button(row):
    return next(w for w in row.walk() if "Button" in type(w).__name__)


def row_texts(row) -> list[str]:
    return [w.text for w in row.walk() if type(w).__name__ == "Label"]


@pytest.mark.parametrize("size,tag", SIZES)
async def test_an_administrator_pairs_the_neighbours_thermometer_by_taps(tmp_path, size, tag):
    runtime = make_runtime(tmp_path, signed_in=False, foreign_devices=("thermometer",))
    set_up_tablet(runtime.store)
    admin = runtime.store.add_staff(display_name="Alex Admin", role="infirmier", pin="975310", is_admin=True)
    runtime.workflow.sign_in(admin, "975310")
    neighbour = NEIGHBOURS[0].address
    async with running_app(runtime, size=size) as app:
        topbar = app.root.ids.topbar.ids
        await tap(topbar.staff_button)
        await wait_for(lambda: topbar.staff_button.menu is not None, what="the staff menu")
        await frames(3)
        await tap(topbar.staff_button.menu.ids.admin)
        await wait_for(lambda: app.screen_manager.current == "admin", what="the administration")
        await frames(3)
        admin_screen = screen(app, "admin")
        assert admin_screen.ids.open_devices.text == "Appareils de la tablette"
        await tap(admin_screen.ids.open_devices)
        await wait_for(lambda: app.screen_manager.current == "devices", what="the devices screen")
        devices = screen(app, "devices")
        await frames(3)
        kit = rows(devices, "KitRow")
        assert sorted(r.serial for r in kit) == ["SIM-BPM-0001", "SIM-OXY-0001", "SIM-THERMO-0001"]
        thermo = next(r for r in kit if r.kind == "thermometer")
        assert row_texts(thermo)[:2] == ["Thermomètre — Relais Thermo", "Modèle SIM-THERMO-1 · N° de série SIM-THERMO-0001"]
        await screenshot(app, f"71-devices-kit-fr-{tag}")
        await check_layout(app)

        await tap(devices.ids.search)
        assert devices.ids.search.text == "Recherche en cours…"
        await wait_for(lambda: app.models.devices.searched, timeout=20, what="the search")
        await frames(4)
        assert devices.ids.search_status.text == "4 appareils à portée."
        row = found_row(devices, neighbour)
        assert row_texts(row)[:3] == ["Thermomètre — Relais Thermo 2",
                                      "Modèle SIM-THERMO-1 · N° de série SIM-THERMO-0002",
                                      "Signal : faible (\u221286 dBm)"]
        assert row_button(row).text == "Associer" and not row_button(row).disabled
        ours = found_row(devices, OWN_KIT[0].address)
        assert row_button(ours).text == "Dans le kit" and row_button(ours).disabled
        assert "Signal : bon (\u221250 dBm)" in row_texts(ours)
        await screenshot(app, f"72-devices-search-fr-{tag}")
        await check_layout(app)
        tr.switch_lang("en")
        await frames(3)
        assert row_texts(found_row(devices, neighbour))[2] == "Signal: weak (\u221286 dBm)"
        await screenshot(app, f"72-devices-search-en-{tag}")
        await check_layout(app)
        tr.switch_lang("fr")
        await frames(3)

        await tap(row_button(found_row(devices, neighbour)))
        await wait_for(lambda: app.models.devices.message == "paired", timeout=15, what="the pairing")
        await frames(4)
        assert devices.ids.done.text == "Appareil associé : il fait maintenant partie du kit de la tablette."
        assert neighbour in {e["address"] for e in kit_entries(runtime.store)}
        assert row_button(found_row(devices, neighbour)).text == "Dans le kit"
        assert len(rows(devices, "KitRow")) == 4
        await screenshot(app, f"73-devices-paired-fr-{tag}")
        await check_layout(app)

        gone = next(r for r in rows(devices, "KitRow") if r.serial == "SIM-THERMO-0001")
        await tap(row_button(gone))
        await frames(3)
        assert devices.ids.done.text == "Appareil retiré du kit : il ne sera plus utilisé."
        assert OWN_KIT[0].address not in {e["address"] for e in kit_entries(runtime.store)}
        tr.switch_lang("en")
        await frames(3)
        await screenshot(app, f"74-devices-removed-en-{tag}")
        await check_layout(app)
        await tap(devices.ids.back)
        assert app.screen_manager.current == "admin"
