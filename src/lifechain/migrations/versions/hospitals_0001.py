"""Hospitals: capabilities and diversion (with an optimistic version column).

Revision ID: hospitals_0001
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "hospitals_0001"
down_revision = "0001_base"
branch_labels = ("hospitals",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hospital",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("diverted_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("diversion_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital")),
        sa.UniqueConstraint("city", "name", name="uq_hospital_city_name"),
    )
    op.create_index(op.f("ix_hospital_city"), "hospital", ["city"])


def downgrade() -> None:
    op.drop_index(op.f("ix_hospital_city"), table_name="hospital")
    op.drop_table("hospital")
