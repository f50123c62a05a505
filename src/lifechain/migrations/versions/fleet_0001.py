"""Fleet: stations and units (with an optimistic version column).

Revision ID: fleet_0001
Revises: 0001_base
"""

import sqlalchemy as sa
from alembic import op

revision = "fleet_0001"
down_revision = "0001_base"
branch_labels = ("fleet",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station")),
        sa.UniqueConstraint("city", "name", name="uq_station_city_name"),
    )
    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("call_sign", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("crew", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"], name=op.f("fk_unit_station_id_station")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
        sa.UniqueConstraint("call_sign", name=op.f("uq_unit_call_sign")),
    )
    op.create_index(op.f("ix_unit_city"), "unit", ["city"])


def downgrade() -> None:
    op.drop_index(op.f("ix_unit_city"), table_name="unit")
    op.drop_table("unit")
    op.drop_table("station")
