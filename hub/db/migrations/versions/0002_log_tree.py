"""disclosure log: Merkle frontier, subtree nodes, signed checkpoints, search facets

Revision ID: 0002
Revises: 0001
"""

import json

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

APPEND_ONLY = "the disclosure log is append-only"
GUARDED = ("disclosure_log_node", "disclosure_log_checkpoint")


def upgrade() -> None:
    op.add_column(
        'disclosure_log_head', sa.Column('frontier', sa.Text(), nullable=False, server_default='')
    )
    op.create_table('disclosure_log_node',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('level', 'index', name=op.f('pk_disclosure_log_node'))
    )
    op.create_table('disclosure_log_checkpoint',
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('size', name=op.f('pk_disclosure_log_checkpoint'))
    )
    op.create_index(op.f('ix_disclosure_log_checkpoint_signed_at'), 'disclosure_log_checkpoint', ['signed_at'], unique=False)
    op.create_table('disclosure_log_facet',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=True),
    sa.Column('legal_basis', sa.String(length=64), nullable=True),
    sa.Column('practitioner', sa.String(length=64), nullable=True),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('review_of', sa.BigInteger(), nullable=True),
    sa.Column('review_state', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_disclosure_log_facet'))
    )
    for column in ('purpose', 'legal_basis', 'practitioner', 'needs_review', 'review_of'):
        op.create_index(op.f(f'ix_disclosure_log_facet_{column}'), 'disclosure_log_facet', [column], unique=False)
    _backfill()
    _guard()


def _backfill() -> None:
    """Rebuild the tree state and facets of a log written before this revision."""
    from hub.disclosure.log import facets_of, rebuild_tree

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT seq, body, leaf_hash FROM disclosure_log ORDER BY seq")).all()
    if not rows:
        return
    facet = sa.table(
        'disclosure_log_facet', sa.column('seq'), sa.column('purpose'), sa.column('legal_basis'),
        sa.column('practitioner'), sa.column('needs_review'), sa.column('review_of'),
        sa.column('review_state'),
    )
    bind.execute(facet.insert(), [{"seq": r.seq, **facets_of(json.loads(r.body))} for r in rows])
    frontier, nodes = rebuild_tree([bytes.fromhex(r.leaf_hash) for r in rows])
    node = sa.table('disclosure_log_node', sa.column('level'), sa.column('index'), sa.column('hash'))
    if nodes:
        bind.execute(node.insert(), [{"level": lv, "index": ix, "hash": h.hex()} for lv, ix, h in nodes])
    bind.execute(
        sa.text("UPDATE disclosure_log_head SET frontier = :f WHERE id = 1"),
        {"f": ",".join(h.hex() for h in frontier)},
    )


def _guard() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in GUARDED:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} "
                    f"ON {table} BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
                )
        return
    for table in GUARDED:
        op.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION disclosure_log_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION disclosure_log_refuse_change()"
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in GUARDED:
        if sqlite:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.drop_table('disclosure_log_facet')
    op.drop_table('disclosure_log_checkpoint')
    op.drop_table('disclosure_log_node')
    with op.batch_alter_table('disclosure_log_head') as batch_op:
        batch_op.drop_column('frontier')
