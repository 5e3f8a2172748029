"""linkage: link evidence, review queue, blocking keys

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-25 18:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_evidence",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("matched_record_id", sa.String(length=36), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("fields_json", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(length=80), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_link_evidence_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["agency_record.id"],
            name=op.f("fk_link_evidence_record_id_agency_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_evidence")),
    )
    op.create_index(op.f("ix_link_evidence_person_id"), "link_evidence", ["person_id"])
    op.create_index(op.f("ix_link_evidence_record_id"), "link_evidence", ["record_id"])
    op.create_table(
        "link_review",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("candidate_record_id", sa.String(length=36), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("fields_json", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidate_record_id"],
            ["agency_record.id"],
            name=op.f("fk_link_review_candidate_record_id_agency_record"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["agency_record.id"], name=op.f("fk_link_review_record_id_agency_record")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_review")),
        sa.UniqueConstraint(
            "record_id", "candidate_record_id", name=op.f("uq_link_review_record_id")
        ),
    )
    op.create_index(op.f("ix_link_review_record_id"), "link_review", ["record_id"])
    op.create_index(op.f("ix_link_review_status"), "link_review", ["status"])
    op.create_table(
        "link_block_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["agency_record.id"],
            name=op.f("fk_link_block_key_record_id_agency_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_block_key")),
    )
    op.create_index(op.f("ix_link_block_key_key"), "link_block_key", ["key"])
    op.create_index(op.f("ix_link_block_key_record_id"), "link_block_key", ["record_id"])


def downgrade() -> None:
    op.drop_table("link_block_key")
    op.drop_table("link_review")
    op.drop_table("link_evidence")
