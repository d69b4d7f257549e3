"""Relais screens: one module and one kv file (assets/kv/) per screen, bound to the workflow via
their view models (:mod:`mobile.screens.viewmodels`). Importing a screen module loads its kv rules once."""
