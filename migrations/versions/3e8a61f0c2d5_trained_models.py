"""trained_models: settings, loss history and pictures of a model trained by the job

Revision ID: 3e8a61f0c2d5
Revises: e4a7c3b19d52
Create Date: 2026-11-29 11:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3e8a61f0c2d5'
down_revision = 'e4a7c3b19d52'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'trained_models',
        sa.Column('model_key', sa.String(length=255), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('history', sa.JSON(), nullable=False),
        sa.Column('loss_png', sa.LargeBinary(), nullable=True),
        sa.Column('reconstructions_png', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('model_key'),
    )


def downgrade():
    op.drop_table('trained_models')
