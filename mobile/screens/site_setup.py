"""First run: where this tablet works (EHPAD or pharmacy cabin) and, when nobody has an account yet, the first one."""
from __future__ import annotations


from mobile.screens.widgets import ModelScreen, load_kv


class SiteSetupScreen(ModelScreen):
    def submit(self) -> bool:
        ids = self.ids
        values = dict(kind=ids.kind.selected, name=ids.site_name.text.strip(), finess=ids.finess.text.strip() or None,
                      ars_declaration=ids.ars.text.strip() or None)
        if self.vm.first_run:
            values.update(first_staff_name=ids.staff_name.text.strip(), first_staff_role=ids.role.selected or None,
                          first_staff_pin=ids.pin.text.strip())
        return self.vm.setup_site(**values)


load_kv("site_setup.kv")
