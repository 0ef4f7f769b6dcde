"""Each revision carries its annotator's own reading (blind reading).

The diagnostic impression and the lesion's EUS description a reader gives are stored with
the reader's revision (JSON text) instead of on the shared lesion row, which stays the case
record entered by reviewers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add revisions.reading."""
    op.add_column("revisions", sa.Column("reading", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop revisions.reading."""
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.drop_column("reading")
