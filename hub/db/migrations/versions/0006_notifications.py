"""notifications: FHIR subscriptions and the notification outbox

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-25 18:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fhir_subscription',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=100), nullable=False),
    sa.Column('endpoint', sa.String(length=500), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('practitioner', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=48), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('events_since_start', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_fhir_subscription_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fhir_subscription'))
    )
    with op.batch_alter_table('fhir_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fhir_subscription_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fhir_subscription_topic'), ['topic'], unique=False)

    op.create_table('notification_outbox',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('subscription_id', sa.String(length=36), nullable=False),
    sa.Column('topic', sa.String(length=100), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('focus_type', sa.String(length=32), nullable=False),
    sa.Column('focus_id', sa.String(length=36), nullable=False),
    sa.Column('event_number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.SmallInteger(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.SmallInteger(), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['fhir_subscription.id'], name=op.f('fk_notification_outbox_subscription_id_fhir_subscription')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_outbox'))
    )
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_outbox_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_outbox_subscription_id'), ['subscription_id'], unique=False)


def downgrade() -> None:
    op.drop_table('notification_outbox')
    op.drop_table('fhir_subscription')
