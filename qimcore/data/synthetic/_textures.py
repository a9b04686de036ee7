"""Synthetic textures with known truth."""

__all__: list[str] = []
