"""Synthetic layers with known truth."""

__all__: list[str] = []
