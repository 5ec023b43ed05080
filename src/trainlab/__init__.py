"""trainlab: the training techniques of the notes as verified, fast PyTorch software."""

__version__ = "0.1.0"
