"""Relais screens: one module and one kv file (assets/kv/) per screen, bound to the workflow via
:mod:`mobile.screens.adapter`. Importing a screen module loads its kv rules once."""
