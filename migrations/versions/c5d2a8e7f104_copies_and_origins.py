"""copies and origins: what tells an original from its copies, each image's copies and
distinct list, and an index on content hashes

Revision ID: c5d2a8e7f104
Revises: b8f1d26c4e93
Create Date: 2026-12-04 21:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5d2a8e7f104'
down_revision = 'b8f1d26c4e93'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('indexed_images') as batch:
        batch.add_column(sa.Column('format', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('jpeg_quality', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('captured_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('modified_at', sa.DateTime(), nullable=True))
    op.create_index('indexed_images_content', 'indexed_images', ['build_id', 'content_hash'])
    op.create_table(
        'related_images',
        sa.Column('build_id', sa.Integer(), nullable=False),
        sa.Column('image_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('similar_id', sa.Integer(), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('build_id', 'image_id', 'kind', 'rank'))


def downgrade():
    op.drop_table('related_images')
    op.drop_index('indexed_images_content', table_name='indexed_images')
    with op.batch_alter_table('indexed_images') as batch:
        for column in ('modified_at', 'captured_at', 'jpeg_quality', 'format'):
            batch.drop_column(column)
