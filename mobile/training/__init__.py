"""Training and demo mode: the app plays a whole session by itself, tapping its own buttons, for staff training
and demonstrations (`python -m mobile --demo --scenario NAME [--screenshots DIR]`).

`scenarios` names what can be played and how the simulated devices behave for each, `steps` holds the reusable
moments of a session, `runner` the player that waits, taps and saves a numbered screenshot per screen. Nothing here
imports Kivy: it drives any object shaped like mobile.app.RelaisApp, so `--scenario list` starts no window."""
