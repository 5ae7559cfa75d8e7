"""Connecting to a Dask cluster, for the experiment runner and the COCO evaluator alike.

``dask[distributed]`` is an optional extra (``pip install 'handgrad[dask]'``); without it, or when no
scheduler answers at the address within the timeout, :func:`dask_client` raises ``ValueError`` with a
message that says what to do.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["DASK_INSTALL", "dask_available", "dask_client"]

DASK_INSTALL = "pip install 'handgrad[dask]'"


def dask_available() -> bool:
    """True when ``dask.distributed`` can be imported."""
    return importlib.util.find_spec("distributed") is not None


def dask_client(address: str, timeout: float = 10.0) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``.

    Raises ``ValueError`` when Dask is not installed, when ``address`` is not a non-empty string,
    or when no scheduler answers there within ``timeout`` seconds (naming the address).
    """
    if not dask_available():
        raise ValueError(f"dask_scheduler needs Dask: {DASK_INSTALL}")
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"dask_scheduler must be an address; got {address!r}")
    from distributed import Client

    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ValueError(
            f"no Dask scheduler answered at {address!r} within {timeout:g} s ({exc})"
        ) from None
