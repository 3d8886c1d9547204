"""map pictures: each image's zoom level, grid cell and atlas cell, and a build's atlases

Revision ID: f1a6c3e9d247
Revises: c5d2a8e7f104
Create Date: 2026-12-04 23:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1a6c3e9d247'
down_revision = 'c5d2a8e7f104'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'map_pictures',
        sa.Column('build_id', sa.Integer(), nullable=False),
        sa.Column('image_id', sa.Integer(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('grid_level', sa.Integer(), nullable=False),
        sa.Column('grid_x', sa.Float(), nullable=False),
        sa.Column('grid_y', sa.Float(), nullable=False),
        sa.Column('atlas_slot', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('build_id', 'image_id'))
    op.create_table(
        'map_atlases',
        sa.Column('build_id', sa.Integer(), nullable=False),
        sa.Column('atlas', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('build_id'))


def downgrade():
    op.drop_table('map_atlases')
    op.drop_table('map_pictures')
