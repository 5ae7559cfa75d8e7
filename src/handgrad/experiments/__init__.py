"""Experiments that test the assignment's claims, and the runner that runs them.

Each experiment is a module that defines ``EXPERIMENT``, an
:class:`~handgrad.experiments.base.Experiment`: the claim, the reference result, a validated config
dataclass, its independent units of work, a verdict with a stated rule, and figures. Nothing in an
experiment prints or writes files.

* :mod:`handgrad.experiments.base`: the contract between an experiment and the runner.
* :mod:`handgrad.experiments.config`: the config of a run from defaults, ``--quick``, ``--set``.
* :mod:`handgrad.experiments.runner`: runs the units (serially, joblib processes, Dask) with
  checkpoints and writes the run folder; :mod:`handgrad.experiments.output` writes its files and
  :mod:`handgrad.experiments.checkpoint_files` a unit's checkpoints.
* :mod:`handgrad.experiments.registry`: every experiment by name (``EXPERIMENTS``).
* :mod:`handgrad.experiments.vanishing_gradients`: the norm of dh_t/dh_k against t - k for tanh
  RNNs of several spectral radii, an identity-initialised ReLU RNN, LSTMs and a GRU.
* :mod:`handgrad.experiments.repeated_words`: assignment Q1(c), RNN vs LSTM vs GRU accuracy on a
  repeated-word task as the lag grows (also a plain function, ``run(config)``).
* :mod:`handgrad.experiments.adding_problem`: Hochreiter & Schmidhuber's adding problem at T = 100.
* :mod:`handgrad.experiments.char_rnn`: a character-level language model (min-char-rnn's setting),
  with :mod:`handgrad.experiments.char_speed` timing it against plain NumPy and torch.
* :mod:`handgrad.experiments.box_regression`: the DIoU paper's 1,715,000-case simulation, with
  :mod:`handgrad.experiments.box_regression_simulation` holding its cases, step directions (the
  port of the paper's MATLAB steps among them) and update kernel.
* :mod:`handgrad.experiments.focal_vs_ce`: focal loss against cross-entropy as positives get rare,
  with :mod:`handgrad.experiments.focal_data` (the dense task and the MLP with its backward) and
  :mod:`handgrad.experiments.focal_verdict` (the AP table and one test per finding).
* :mod:`handgrad.experiments.plots`, ``plots_recurrent``, ``plots_detection``: their figures.

``handgrad experiment list`` and ``handgrad experiment run NAME`` run them from the terminal.
"""

from handgrad.experiments import repeated_words

__all__ = ["repeated_words"]
