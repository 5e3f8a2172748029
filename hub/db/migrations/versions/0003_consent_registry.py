"""consent registry: FHIR resource, nested provisions, subject and competence, versions

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25 17:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_kind', sa.String(length=8), nullable=False, server_default='child'))
        batch_op.add_column(sa.Column('subject_record', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('grantor_record', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('competence_assessed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('provisions', sa.Text(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('fhir', sa.Text(), nullable=False, server_default='{}'))
    op.create_table('consent_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consent_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('practitioner', sa.String(length=64), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('fhir', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_consent_version_agency_id_agency')),
    sa.ForeignKeyConstraint(['consent_id'], ['consent.id'], name=op.f('fk_consent_version_consent_id_consent')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_version')),
    sa.UniqueConstraint('consent_id', 'version', name=op.f('uq_consent_version_consent_id'))
    )
    with op.batch_alter_table('consent_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_version_consent_id'), ['consent_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('consent_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_version_consent_id'))
    op.drop_table('consent_version')
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_column('fhir')
        batch_op.drop_column('version')
        batch_op.drop_column('provisions')
        batch_op.drop_column('competence_assessed_on')
        batch_op.drop_column('grantor_record')
        batch_op.drop_column('subject_record')
        batch_op.drop_column('subject_kind')
