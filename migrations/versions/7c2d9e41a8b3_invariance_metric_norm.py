"""builds.invariance and builds.metric; embeddings.norm

builds.invariance: which flips and rotations each embedding was averaged over; builds.metric:
what the recommendations rank by; embeddings.norm: each vector's length before it was
normalised, so euclidean and dot-product indexes see the model's raw features.

Revision ID: 7c2d9e41a8b3
Revises: 5b1e0c7d2f4a
Create Date: 2026-11-29 10:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c2d9e41a8b3'
down_revision = '5b1e0c7d2f4a'
branch_labels = None
depends_on = None


def upgrade():
    # Builds made before the option existed embedded each image as it is.
    op.add_column('builds', sa.Column('invariance', sa.String(length=16), nullable=False,
                                      server_default='none'))
    op.add_column('builds', sa.Column('metric', sa.String(length=16), nullable=False,
                                      server_default='cosine'))
    # NULL for vectors stored before: a euclidean or dot-product build embeds those again.
    op.add_column('embeddings', sa.Column('norm', sa.Float(), nullable=True))


def downgrade():
    op.drop_column('embeddings', 'norm')
    op.drop_column('builds', 'metric')
    op.drop_column('builds', 'invariance')
