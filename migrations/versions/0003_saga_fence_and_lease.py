"""saga fence, lease and pivot

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fence', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pivoted_at', sa.DateTime(timezone=True), nullable=True))
    # A saga in flight during the upgrade has a lapsed lease: the reconciler takes it over with a
    # fence, since the messages of its old chain carry none. A ticketed saga has passed its pivot.
    op.execute("UPDATE sagas SET lease_expires_at = progressed_at")
    op.execute("UPDATE sagas SET pivoted_at = (SELECT issued_at FROM tickets WHERE tickets.saga_id = sagas.id)")
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        batch_op.alter_column('lease_expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column('fence', existing_type=sa.Integer(), server_default=None)
        batch_op.create_index('ix_sagas_status_lease', ['status', 'lease_expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        batch_op.drop_index('ix_sagas_status_lease')
        batch_op.drop_column('pivoted_at')
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('fence')
