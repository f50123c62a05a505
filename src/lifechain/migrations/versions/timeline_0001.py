"""Timeline: append-only time nodes and the live-stream outbox.

Revision ID: timeline_0001
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "timeline_0001"
down_revision = "0001_base"
branch_labels = ("timeline",)
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "timeline_event",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("supersedes", BigId, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["supersedes"], ["timeline_event.id"],
                                name=op.f("fk_timeline_event_supersedes_timeline_event")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_event")),
    )
    op.create_index("ix_timeline_event_incident_at", "timeline_event", ["incident_id", "at"])
    op.create_table(
        "stream_event",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_event")),
    )


def downgrade() -> None:
    op.drop_table("stream_event")
    op.drop_index("ix_timeline_event_incident_at", table_name="timeline_event")
    op.drop_table("timeline_event")
