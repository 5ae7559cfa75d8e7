"""Checkpoints for calling an experiment's ``run_unit`` directly: in memory, or in the runner's file
format with a simulated kill after some saves; and a progress callback that ignores its calls."""

from __future__ import annotations

import copy

from handgrad.experiments.runner import load_state, save_state


class Killed(Exception):
    """Raised where a test plays a kill of the process part way through a unit."""


class MemoryCheckpoint:
    """The runner's checkpoint, in memory: ``save`` keeps a deep copy, ``load`` returns one."""

    def __init__(self, every):
        self.every = every
        self.state = None

    def load(self):
        return copy.deepcopy(self.state)

    def save(self, state):
        self.state = copy.deepcopy(state)


class KillingFileCheckpoint:
    """Saves in the runner's file format and records ``state[step_key]`` of each save; after
    ``kill_after`` saves it raises :class:`Killed`."""

    def __init__(self, path, every, kill_after=None, step_key="step"):
        self.path, self.every, self.kill_after, self.step_key = path, every, kill_after, step_key
        self.saved = []

    def load(self):
        return load_state(self.path) if self.path.exists() else None

    def save(self, state):
        save_state(self.path, state)
        self.saved.append(state[self.step_key])
        if self.kill_after is not None and len(self.saved) >= self.kill_after:
            raise Killed


def no_progress(done, total):
    return None
