"""the e-mails each saga sent (saga v2's send_itinerary, and the cancellation)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sent_emails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('saga_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('message_id', sa.String(length=255), nullable=False),
        sa.Column('recipient', sa.String(length=254), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['saga_id'], ['sagas.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('saga_id', 'kind', name='uq_sent_emails_saga_kind'),
    )


def downgrade():
    op.drop_table('sent_emails')
