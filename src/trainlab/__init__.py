"""trainlab: the training techniques of the notes as verified, fast PyTorch software.

`trainlab.fit(model, train, val, test, ...)` trains from Python; `trainlab train` from the
command line. Importing `trainlab` itself is light (no torch) so the CLI starts fast.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "fit"]


def __getattr__(name: str) -> Any:
    if name == "fit":
        from trainlab.train.fit import fit

        return fit
    raise AttributeError(f"module 'trainlab' has no attribute {name!r}")
