"""Neural-network layers with hand-derived backward passes.

* :class:`Module` (``module.py``): parameters, gradients, state dicts.
* :class:`Linear`, :class:`Embedding` (``layers.py``).
* :class:`RNN`, :class:`LSTM`, :class:`GRU` (``rnn.py``, ``lstm.py``, ``gru.py``; shared machinery
  in ``recurrent.py``): PyTorch's parameter names, layouts, gate orders and semantics.
* :class:`LanguageModel` (``language_model.py``): the assignment's RNN language model.
* :mod:`handgrad.nn.bptt`: per-step gradient terms, Jacobian norms, the seed's formulas,
  truncated BPTT.
"""

from handgrad.nn import bptt
from handgrad.nn.gru import GRU
from handgrad.nn.language_model import LanguageModel
from handgrad.nn.layers import Embedding, Linear
from handgrad.nn.lstm import LSTM
from handgrad.nn.module import Module
from handgrad.nn.recurrent import RecurrentBase
from handgrad.nn.rnn import RNN

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Embedding",
    "LanguageModel",
    "Linear",
    "Module",
    "RecurrentBase",
    "bptt",
]
