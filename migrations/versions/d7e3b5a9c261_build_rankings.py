"""build rankings: the whitening and augmentation a build learned, and each list entry's
raw cosine beside its score

Revision ID: d7e3b5a9c261
Revises: f1a6c3e9d247
Create Date: 2026-12-04 23:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd7e3b5a9c261'
down_revision = 'f1a6c3e9d247'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'build_rankings',
        sa.Column('build_id', sa.Integer(), nullable=False),
        sa.Column('steps', sa.String(length=32), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('whitening', sa.LargeBinary(), nullable=True),
        sa.Column('augmentation', sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint('build_id'))
    for table in ('recommendations', 'related_images'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('cosine', sa.Float(), nullable=True))


def downgrade():
    for table in ('related_images', 'recommendations'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('cosine')
    op.drop_table('build_rankings')
