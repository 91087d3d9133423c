"""sampling (issue #15): frames of completed dossiers, saved column mappings, designs, draws, members

The frame holds personal data (name, address, phone) under decree 13/2023/NĐ-CP; draws are
never edited, only replaced by new draws, so nothing here updates in place.

Revision ID: 0008_sampling
Revises: 0007_wrapped_secrets
Create Date: 2026-12-01 00:27:39.557741
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_sampling'
down_revision = '0007_wrapped_secrets'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('frame_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=80), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('actor_login', sa.String(length=64), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('rejections', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_frame_imports_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_frame_imports'))
    )
    with op.batch_alter_table('frame_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_frame_imports_unit_id'), ['unit_id'], unique=False)

    op.create_table('frame_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('mapping', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_frame_sources_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_frame_sources')),
    sa.UniqueConstraint('unit_id', 'name', name=op.f('uq_frame_sources_unit_id_name'))
    )
    op.create_table('sample_designs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('strata', sa.String(length=20), nullable=False),
    sa.Column('formula', sa.String(length=10), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('margin', sa.Float(), nullable=False),
    sa.Column('proportion', sa.Float(), nullable=False),
    sa.Column('response_rate', sa.Float(), nullable=False),
    sa.Column('design_effect', sa.Float(), nullable=False),
    sa.Column('allocation', sa.String(length=20), nullable=False),
    sa.Column('minimum', sa.Integer(), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('actor_login', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_sample_designs_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_designs'))
    )
    with op.batch_alter_table('sample_designs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sample_designs_unit_id'), ['unit_id'], unique=False)

    op.create_table('frame_dossiers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dossier_code', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('field_id', sa.Integer(), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('procedure', sa.String(length=400), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('address', sa.String(length=400), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('channel', sa.String(length=60), nullable=True),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['field_id'], ['fields.id'], name=op.f('fk_frame_dossiers_field_id_fields')),
    sa.ForeignKeyConstraint(['import_id'], ['frame_imports.id'], name=op.f('fk_frame_dossiers_import_id_frame_imports')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_frame_dossiers_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_frame_dossiers')),
    sa.UniqueConstraint('dossier_code', name=op.f('uq_frame_dossiers_dossier_code'))
    )
    with op.batch_alter_table('frame_dossiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_frame_dossiers_completed_on'), ['completed_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_frame_dossiers_import_id'), ['import_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_frame_dossiers_unit_id'), ['unit_id'], unique=False)

    op.create_table('sample_draws',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('design_id', sa.Integer(), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=20), nullable=False),
    sa.Column('frame_sha256', sa.String(length=64), nullable=False),
    sa.Column('frame_size', sa.Integer(), nullable=False),
    sa.Column('selected', sa.Integer(), nullable=False),
    sa.Column('actor_login', sa.String(length=64), nullable=True),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['design_id'], ['sample_designs.id'], name=op.f('fk_sample_draws_design_id_sample_designs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_draws'))
    )
    with op.batch_alter_table('sample_draws', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sample_draws_design_id'), ['design_id'], unique=False)

    op.create_table('sample_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('respondent_code', sa.String(length=24), nullable=False),
    sa.Column('stratum', sa.String(length=120), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('selected', sa.Boolean(), nullable=False),
    sa.Column('reserve_rank', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['frame_dossiers.id'], name=op.f('fk_sample_members_dossier_id_frame_dossiers')),
    sa.ForeignKeyConstraint(['draw_id'], ['sample_draws.id'], name=op.f('fk_sample_members_draw_id_sample_draws')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_members')),
    sa.UniqueConstraint('draw_id', 'dossier_id', name=op.f('uq_sample_members_draw_id_dossier_id')),
    sa.UniqueConstraint('respondent_code', name=op.f('uq_sample_members_respondent_code'))
    )
    with op.batch_alter_table('sample_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sample_members_draw_id'), ['draw_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sample_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sample_members_draw_id'))

    op.drop_table('sample_members')
    with op.batch_alter_table('sample_draws', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sample_draws_design_id'))

    op.drop_table('sample_draws')
    with op.batch_alter_table('frame_dossiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_frame_dossiers_unit_id'))
        batch_op.drop_index(batch_op.f('ix_frame_dossiers_import_id'))
        batch_op.drop_index(batch_op.f('ix_frame_dossiers_completed_on'))

    op.drop_table('frame_dossiers')
    with op.batch_alter_table('sample_designs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sample_designs_unit_id'))

    op.drop_table('sample_designs')
    op.drop_table('frame_sources')
    with op.batch_alter_table('frame_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_frame_imports_unit_id'))

    op.drop_table('frame_imports')
