"""Experiments that test the assignment's claims: one module per experiment.

Each experiment is a function ``run(config, progress=None) -> result`` with a small frozen config
dataclass and a result dataclass; nothing here prints. :mod:`handgrad.experiments.plots` draws the
results; the ``handgrad experiment`` command runs them from the terminal.

* :mod:`handgrad.experiments.repeated_words`: assignment Q1(c), RNN vs LSTM vs GRU accuracy on a
  repeated-word task as the lag grows.
"""

from handgrad.experiments import repeated_words

__all__ = ["repeated_words"]
