"""First run: where this tablet works (an EHPAD or a pharmacy cabin) and, when nobody can sign in yet, the first
account, administrator of the tablet."""
from __future__ import annotations

from mobile.workflow.context import WorkflowContext
from mobile.workflow.signin import SigninStep
from mobile.workflow.state import WorkflowError
from sync.store import validate_pin


class SiteStep:
    def __init__(self, ctx: WorkflowContext, signin: SigninStep) -> None:
        self.ctx = ctx
        self.signin = signin

    def setup_site(self, *, kind: str, name: str, finess: str | None = None, ars_declaration: str | None = None,
                   first_staff_name: str | None = None, first_staff_role: str | None = None,
                   first_staff_pin: str | None = None) -> str:
        """Where this tablet works (EHPAD or pharmacy cabin). On the very first run there is nobody to sign in
        yet: the person setting the tablet up also creates their own account, as administrator of the tablet."""
        ctx = self.ctx
        first_run = not self.signin.staff_members()
        if not first_run and ctx.state.staff is None:
            raise WorkflowError("auth.sign_in_first")
        if first_run and (not first_staff_pin or not first_staff_name):
            raise WorkflowError("site.first_account_missing")
        try:
            if first_run:  # before anything is written: the first account administers, its PIN has 6 digits
                validate_pin(first_staff_pin, admin=True)
            site_id = ctx.store.add_site(kind=kind, name=name, finess=finess or None,
                                         ars_declaration=ars_declaration or None)
            if first_run:
                staff_id = ctx.store.add_staff(display_name=first_staff_name,
                                               role=first_staff_role or "administrateur", pin=first_staff_pin,
                                               is_admin=True)
                ctx.state.staff = ctx.staff_without_pin_hash(staff_id)
                ctx.store.actor = staff_id
            ctx.store.set_setting("site_id", site_id)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        ctx.last_activity = ctx.monotonic()
        ctx.changed(site=ctx.store.get_site(site_id), step="patient")
        return site_id
