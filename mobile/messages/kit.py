"""What the device kit's codes say to staff: a reading refused because the device in range is not this tablet's,
and the administrator's search and pairing (mobile.workflow.kit). English templates, translated through the
catalogs like every other message."""
from __future__ import annotations

from mobile.messages.workflow import N_

KIT_MESSAGES: dict[str, str] = {
    "measure.not_in_kit": N_("Device not paired with this tablet: {device} in range is not in this tablet's kit, so "
                             "it was not used. Use this tablet's own device, or ask an administrator to add this "
                             "one to the kit (Administration › Devices of this tablet)."),
    "measure.none_paired": N_("No device of this kind is paired with this tablet. Ask an administrator to pair one "
                              "(Administration › Devices of this tablet)."),
    "admin.no_bluetooth": N_("Bluetooth is not available on this tablet."),
    "admin.scan_failed": N_("Search impossible: {reason}."),
    "admin.search_first": N_("Search for the devices first."),
    "admin.device_in_kit": N_("This device is already in the tablet's kit."),
    "admin.device_not_in_kit": N_("This device is not in the tablet's kit."),
    "admin.pairing_failed": N_("Pairing impossible: {reason}. Check that the device is on and close to the tablet, "
                               "then try again."),
}
