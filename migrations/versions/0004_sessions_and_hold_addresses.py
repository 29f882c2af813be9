"""session generation per user; client address of holds and sagas

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        # Sessions issued before the upgrade carry no generation and are refused: everyone logs in again.
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_address', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_holds_address_active', ['client_address', 'status', 'expires_at'],
                              unique=False)
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_address', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        batch_op.drop_column('client_address')
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index('ix_holds_address_active')
        batch_op.drop_column('client_address')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
