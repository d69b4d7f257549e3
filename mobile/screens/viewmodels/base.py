"""What every view model shares: the workflow it mirrors, the state subscription with the step it last saw, and
:func:`attempt`, the one way a tap runs a workflow action and turns a refusal into what the screen shows."""
from __future__ import annotations

from typing import Any, Callable

from kivy.event import EventDispatcher

from mobile.workflow import SessionWorkflow, WorkflowState
from sync.errors import RelaisError


def attempt(model: EventDispatcher, message: str, action: Callable[[], Any]) -> bool:
    """Run `action`; a refusal (a RelaisError: a code with parameters) goes into the model's `message` property,
    which the kv rule words with mobile.messages.error_text. True when the action went through."""
    setattr(model, message, None)
    try:
        action()
    except RelaisError as exc:
        setattr(model, message, exc)
        return False
    return True


def clock_text(seconds: int) -> str:
    """A duration as a timer shows it: "04:05", "1:02:03"."""
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60:02d}:{seconds % 60:02d}"


class ScreenModel(EventDispatcher):
    """A view model: Kivy properties for one screen, refreshed from ``workflow.state`` on every change."""

    def __init__(self, workflow: SessionWorkflow, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workflow = workflow
        self.last_step = ""

    def start(self) -> None:
        self.workflow.subscribe(self._changed)

    def _changed(self, state: WorkflowState) -> None:
        previous, self.last_step = self.last_step, state.step
        self.on_state(state)
        if state.step != previous:
            self.on_step(state.step, previous)

    def on_state(self, state: WorkflowState) -> None:
        """Every change of the workflow's state."""

    def on_step(self, step: str, previous: str) -> None:
        """The workflow moved to another step (the screen changes after every model has seen it)."""
