"""The words the app shows for codes: catalogs mapping each refusal code to an English message template that the
gettext catalogs translate (mobile.messages.data: the data layer's codes)."""
