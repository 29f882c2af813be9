"""the fence each e-mail's claim was made under: a re-drive takes over its dead sender's claim at once

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 01:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # A claim from before (and a row the code before still inserts during a deploy) has none: the
    # next delivery takes it.
    with op.batch_alter_table('sent_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fence', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('sent_emails', schema=None) as batch_op:
        batch_op.drop_column('fence')
