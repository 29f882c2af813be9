"""Saga definitions by version: what a step is, what a definition knows, and which ones this process runs.

Every saga row records the version it started under (`Saga.definition_version`); everything that
drives, re-drives, compensates or shows a saga reads that saga's own definition through `of()`.
The versions themselves, with their steps, are in app/saga.py. No Celery here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from flask import current_app

from app.models import Saga, StepKind


@dataclass(frozen=True)
class Step:
    """An action and its compensation. Steps after the pivot are follow-ups: they only retry forward,
    and their compensation runs only when the owner cancels the booking."""

    name: str
    action: Callable[[Saga], None]
    compensation_name: str
    compensation: Callable[[Saga], None]
    pivot: bool = False
    label: str = ""  # the step in a traveller's words (the UI shows it)
    compensation_label: str = ""


class Definition:
    """One version of the saga: its steps in order, exactly one of them the pivot."""

    def __init__(self, version: int, steps: Iterable[Step]) -> None:
        self.version = version
        self.steps = tuple(steps)
        pivots = [step.name for step in self.steps if step.pivot]
        if len(pivots) != 1:
            raise ValueError(f"saga v{version} must have exactly one pivot, not {pivots}")
        self.pivot = pivots[0]
        self.action_names = [step.name for step in self.steps]
        self.actions = {step.name: step.action for step in self.steps}
        self.compensations = {step.compensation_name: step.compensation for step in self.steps}
        self.follow_ups = self.action_names[self.action_names.index(self.pivot) + 1:]

    def then(self, version: int, *steps: Step) -> Definition:
        """The next version: these steps after this one's."""
        return Definition(version, (*self.steps, *steps))

    def step(self, name: str) -> Step:
        """The step whose action is `name`."""
        return next(step for step in self.steps if step.name == name)

    def before(self, name: str) -> list[str]:
        """The actions that must have succeeded before `name` may start."""
        return self.action_names[: self.action_names.index(name)]

    def after(self, name: str) -> str | None:
        """The action that follows `name`, or None after the last."""
        position = self.action_names.index(name) + 1
        return self.action_names[position] if position < len(self.action_names) else None

    def compensations_for(self, started: Iterable[str]) -> list[str]:
        """The compensations of the steps that started, newest first."""
        started = set(started)
        return [step.compensation_name for step in reversed(self.steps) if step.name in started]

    @cached_property
    def labels(self) -> dict[str, str]:
        words = {step.name: step.label for step in self.steps}
        words.update({step.compensation_name: step.compensation_label for step in self.steps})
        return words

    def __repr__(self) -> str:
        return f"<saga v{self.version}: {' > '.join(self.action_names)}>"


def check(versions: dict[int, Definition]) -> None:
    """A step name means one thing in every version: an action or a compensation, before the pivot
    or after it (task names, metrics and the saga log go by the name alone)."""
    actions = {name for d in versions.values() for name in d.actions}
    compensations = {name for d in versions.values() for name in d.compensations}
    follow_ups = {name for d in versions.values() for name in d.follow_ups}
    before = {name for d in versions.values() for name in d.before(d.pivot) + [d.pivot]}
    if actions & compensations or follow_ups & before:
        raise ValueError(f"step names that change meaning between versions: "
                         f"{sorted(actions & compensations | follow_ups & before)}")


class UnknownDefinition(LookupError):
    """The saga started under a version this process does not run (an older or newer deploy does)."""

    def __init__(self, version: int, message: str) -> None:
        super().__init__(message)
        self.version = version


def registered() -> dict[int, Definition]:
    """Every version the code has, oldest first (kept until no saga uses it)."""
    from app.saga import DEFINITIONS  # the versions live beside their steps

    return DEFINITIONS


def known_versions() -> tuple[int, ...]:
    """The versions this process runs: SAGA_DEFINITIONS if set (a process of a rolling deploy), else all."""
    wanted = current_app.config.get("SAGA_DEFINITIONS") or tuple(registered())
    return tuple(version for version in registered() if version in wanted)


def current() -> Definition:
    """The definition new bookings start under: SAGA_DEFINITION_VERSION, else the newest known."""
    version = current_app.config.get("SAGA_DEFINITION_VERSION") or max(known_versions())
    return get(version)


def get(version: int) -> Definition:
    if version not in known_versions():
        raise UnknownDefinition(version, f"saga definition v{version} is not run by this process "
                                f"(it runs {', '.join(f'v{v}' for v in known_versions())})")
    return registered()[version]


def of(saga: Saga) -> Definition:
    """The saga's own definition."""
    return get(saga.definition_version)


def kind_of(name: str) -> str:
    """Whether `name` is an action or a compensation (the same in every version: checked in app/saga.py)."""
    return StepKind.ACTION if any(name in d.actions for d in registered().values()) else StepKind.COMPENSATION


def is_follow_up(name: str) -> bool:
    """Whether action `name` comes after the pivot (the same in every version: checked in app/saga.py)."""
    return any(name in d.follow_ups for d in registered().values())


def label_of(version: int, name: str) -> str:
    definition = registered().get(version)
    return (definition.labels.get(name) if definition else None) or name


def queue(version: int) -> str:
    """The broker queue of a version's messages: only workers that run that version consume it."""
    return f"saga.v{version}"
