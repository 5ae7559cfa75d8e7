"""Detection evaluation (being written)."""

__all__: list[str] = []
