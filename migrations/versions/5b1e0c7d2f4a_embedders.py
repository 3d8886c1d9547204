"""embedders: the ONNX export of each model_key's embedder, and its tier threshold

Revision ID: 5b1e0c7d2f4a
Revises: 9532d17632b7
Create Date: 2026-11-23 14:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b1e0c7d2f4a'
down_revision = '9532d17632b7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('embedders',
    sa.Column('model_key', sa.String(length=255), nullable=False),
    sa.Column('onnx', sa.LargeBinary(), nullable=False),
    sa.Column('scorer_onnx', sa.LargeBinary(), nullable=False),
    sa.Column('preprocessing', sa.JSON(), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('near_duplicate_threshold', sa.Float(), nullable=True),
    sa.Column('calibration', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('model_key')
    )


def downgrade():
    op.drop_table('embedders')
