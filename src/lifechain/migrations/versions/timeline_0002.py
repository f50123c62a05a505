"""Timeline: stream messages numbered in visibility order (`seq`), instead of a lock held across commits.

Revision ID: timeline_0002
Revises: timeline_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "timeline_0002"
down_revision = "timeline_0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("stream_event") as batch:
        batch.add_column(sa.Column("seq", BigId, nullable=True))
        batch.create_unique_constraint(op.f("uq_stream_event_seq"), ["seq"])
    op.execute("UPDATE stream_event SET seq = id")


def downgrade() -> None:
    with op.batch_alter_table("stream_event") as batch:
        batch.drop_constraint(op.f("uq_stream_event_seq"), type_="unique")
        batch.drop_column("seq")
