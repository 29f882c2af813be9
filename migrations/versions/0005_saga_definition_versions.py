"""the definition version of each saga; when its last action succeeded

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:00:00.000000

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        # Every saga before versions existed ran the four steps of v1.
        batch_op.add_column(sa.Column('definition_version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True))
    # Under v1 the pivot is the last step: a confirmed saga has nothing left to do.
    op.execute("UPDATE sagas SET completed_at = COALESCE(pivoted_at, updated_at) WHERE status = 'confirmed'")


def downgrade():
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        batch_op.drop_column('completed_at')
        batch_op.drop_column('definition_version')
