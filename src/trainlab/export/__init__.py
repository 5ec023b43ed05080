"""Models that leave the run directory: export to safetensors / TorchScript / ONNX with a
model card, and predictions on new data with the run's own preprocessing."""

from trainlab.export.card import make_card, meta_of, read_card, write_card
from trainlab.export.formats import FILENAMES, FORMATS, verify, write
from trainlab.export.predict import model_outputs, prediction_table, write_masks, write_table
from trainlab.export.run_model import RunModel, load_run_model, open_run

__all__ = [
    "FILENAMES",
    "FORMATS",
    "RunModel",
    "load_run_model",
    "make_card",
    "meta_of",
    "model_outputs",
    "open_run",
    "prediction_table",
    "read_card",
    "verify",
    "write",
    "write_card",
    "write_masks",
    "write_table",
]
