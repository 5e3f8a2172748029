"""import ledger: what each agency's files last said, for idempotent and resumable imports

Revision ID: 0004
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_ledger',
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=16), nullable=False),
    sa.Column('local_id', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('hub_ref', sa.String(length=36), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_import_ledger_agency_id_agency')),
    sa.PrimaryKeyConstraint('agency_id', 'entity', 'local_id', name=op.f('pk_import_ledger'))
    )


def downgrade() -> None:
    op.drop_table('import_ledger')
