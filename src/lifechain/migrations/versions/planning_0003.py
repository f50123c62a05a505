"""Planning: a run's progress (the share of its replications done), for the planning page.

Revision ID: planning_0003
Revises: planning_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "planning_0003"
down_revision = "planning_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("planning_run") as batch:
        batch.add_column(sa.Column("progress", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("planning_run") as batch:
        batch.drop_column("progress")
