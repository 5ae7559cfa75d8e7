"""Ranking metrics, average precision and detection evaluation.

Public names come from :mod:`handgrad.metrics.ranking` and :mod:`handgrad.metrics.detection`
(each module's ``__all__``).
"""

from handgrad.metrics import detection, ranking
from handgrad.metrics.detection import *  # noqa: F403
from handgrad.metrics.ranking import *  # noqa: F403

__all__ = ["detection", "ranking", *ranking.__all__, *detection.__all__]
