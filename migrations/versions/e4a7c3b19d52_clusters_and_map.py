"""clusters and the 2-D map: each image's cluster and place, the build's k, method and curve

Revision ID: e4a7c3b19d52
Revises: 7c2d9e41a8b3
Create Date: 2026-11-29 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4a7c3b19d52'
down_revision = '7c2d9e41a8b3'
branch_labels = None
depends_on = None


def upgrade():
    # All nullable: builds made before the explore stage (or with --clusters 0, --map none)
    # have neither clusters nor a map, and the site says so.
    with op.batch_alter_table('indexed_images') as batch:
        batch.add_column(sa.Column('cluster', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('map_x', sa.Float(), nullable=True))
        batch.add_column(sa.Column('map_y', sa.Float(), nullable=True))
    with op.batch_alter_table('builds') as batch:
        batch.add_column(sa.Column('cluster_count', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('cluster_method', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('map_method', sa.String(length=16), nullable=True))
    op.create_table(
        'cluster_curves',
        sa.Column('build_id', sa.Integer(), nullable=False),
        sa.Column('png', sa.LargeBinary(), nullable=False),
        sa.Column('curve', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('build_id'))


def downgrade():
    op.drop_table('cluster_curves')
    with op.batch_alter_table('builds') as batch:
        batch.drop_column('map_method')
        batch.drop_column('cluster_method')
        batch.drop_column('cluster_count')
    with op.batch_alter_table('indexed_images') as batch:
        batch.drop_column('map_y')
        batch.drop_column('map_x')
        batch.drop_column('cluster')
