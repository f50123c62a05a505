"""Planning: comparisons of two scenarios (`variant`) and the files a finished run made (report, calls).

Revision ID: planning_0002
Revises: planning_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "planning_0002"
down_revision = "planning_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("planning_run") as batch:
        batch.add_column(sa.Column("variant", sa.JSON(), nullable=True))
    op.create_table(
        "planning_run_file",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["planning_run.id"], name=op.f("fk_planning_run_file_run_id_planning_run"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_planning_run_file")),
    )


def downgrade() -> None:
    op.drop_table("planning_run_file")
    with op.batch_alter_table("planning_run") as batch:
        batch.drop_column("variant")
