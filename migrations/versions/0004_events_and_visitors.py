"""events and visitors: client event ids (idempotent batches), visitor accounts, merged visits

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_event_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ux_interactions_user_client_event", ["user_id", "client_event_id"], unique=True
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("username", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_users_merged_into", "users", ["merged_into_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("fk_users_merged_into", type_="foreignkey")
        batch_op.drop_column("merged_into_id")
        batch_op.alter_column("username", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index("ux_interactions_user_client_event")
        batch_op.drop_column("client_event_id")
