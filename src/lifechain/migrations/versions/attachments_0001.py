"""Attachments: files attached to incidents (pre-hospital ECG photos and PDFs).

Revision ID: attachments_0001
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "attachments_0001"
down_revision = "0001_base"
branch_labels = ("attachments",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_as", sa.String(length=300), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    op.create_index("ix_attachment_incident", "attachment", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_attachment_incident", table_name="attachment")
    op.drop_table("attachment")
