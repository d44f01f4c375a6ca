"""Imports every table module so that `SQLModel.metadata` holds the whole schema."""

from chatops import audit
from rota import models

__all__ = ["audit", "models"]
