"""search_indexes: a build's approximate search index (FAISS) and its recall

Revision ID: b8f1d26c4e93
Revises: 3e8a61f0c2d5
Create Date: 2026-11-29 11:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8f1d26c4e93'
down_revision = '3e8a61f0c2d5'
branch_labels = None
depends_on = None


def upgrade():
    # A table of its own keyed by build id: builds below the size threshold have no row,
    # and the web reads the bytes (up to hundreds of MB) once per machine, never with the build.
    op.create_table(
        'search_indexes',
        sa.Column('build_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('parameters', sa.JSON(), nullable=False),
        sa.Column('recall_at_10', sa.Float(), nullable=False),
        sa.Column('sample_size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('build_id'))


def downgrade():
    op.drop_table('search_indexes')
