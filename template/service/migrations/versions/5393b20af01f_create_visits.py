"""create visits

Revision ID: 5393b20af01f
Revises:
Create Date: 2026-12-05 12:00:00.000000

One row per day with that day's visits: `GET /` upserts today's row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic (random hex, which the secret scan would flag).
revision: str = "5393b20af01f"  # pragma: allowlist secret
down_revision: str | Sequence[str] | None = None  # pragma: allowlist secret
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("visits")
