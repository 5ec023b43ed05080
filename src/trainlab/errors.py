"""Errors that mean "the user's input is wrong", answered by the CLI with exit code 2.

Each message is one line naming what was wrong and what was expected; the CLI prints it
without a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a config value, a data file, a run directory."""


class ConfigError(UserError, ValueError):
    """A config key, value or file that cannot be used."""


class DataError(UserError, ValueError):
    """A data file or folder that cannot be used; the message names the file."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[type, tuple[object, str]]:
        # picklable with both arguments, so a DataLoader worker can hand one back
        return (type(self), (self.path, self.problem))


class CheckpointError(UserError):
    """A run directory or checkpoint that cannot be used."""
