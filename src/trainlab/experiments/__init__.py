"""Experiments over whole training runs, on the engine: the ablation ladder between two
recipes (`trainlab ablate`) and hyperparameter search on the validation split (`trainlab
tune`). Each trial is a config trained by `trainlab.train.Trainer`."""

from trainlab.experiments.trial import TrialResult, check_fits, run_trial, without_test

__all__ = ["TrialResult", "check_fits", "run_trial", "without_test"]
