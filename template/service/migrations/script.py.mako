"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Expand/contract (service README, "Schema migrations"): this runs while the previous release
still serves, and a rollback keeps it. Add, never drop or rename what that release uses.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
# revision identifiers, used by Alembic (random hex, which the secret scan would flag).
<%def name="literal(value)">${repr(value).replace("'", '"')}</%def>\
revision: str = ${literal(up_revision)}  # pragma: allowlist secret
down_revision: str | Sequence[str] | None = ${literal(down_revision)}  # pragma: allowlist secret
branch_labels: str | Sequence[str] | None = ${literal(branch_labels)}
depends_on: str | Sequence[str] | None = ${literal(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
