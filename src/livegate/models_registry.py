"""Imports every module that defines tables, so metadata (and Alembic) see them all."""

from livegate.agreements import models as agreements_models  # noqa: F401
from livegate.chat import models as chat_models  # noqa: F401
from livegate.complaints import models as complaints_models  # noqa: F401
from livegate.core import models as core_models  # noqa: F401
from livegate.credentials import models as credentials_models  # noqa: F401
from livegate.enforcement import models as enforcement_models  # noqa: F401
from livegate.identity import models as identity_models  # noqa: F401
from livegate.media import models as media_models  # noqa: F401
from livegate.retention import models as retention_models  # noqa: F401
from livegate.review import models as review_models  # noqa: F401
