"""Imports every module that defines tables, so metadata (and Alembic) see them all."""

from livegate.core import models as core_models  # noqa: F401
from livegate.media import models as media_models  # noqa: F401
