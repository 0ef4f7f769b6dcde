"""Initial schema: annotators, patients, lesions, images, annotations, revisions, settings.

Also stores a random per-database salt (``settings.pseudonym_salt``) used to derive study
codes and replacement UIDs during DICOM de-identification.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "annotators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('annotator', 'reviewer')", name=op.f("ck_annotators_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotators")),
        sa.UniqueConstraint("name", name=op.f("uq_annotators_name")),
    )
    op.create_table(
        "image_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_files")),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sex IN ('F', 'M')", name=op.f("ck_patients_sex")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("code", name=op.f("uq_patients_code")),
    )
    settings = op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.bulk_insert(settings, [{"key": "pseudonym_salt", "value": secrets.token_hex(32)}])
    op.create_table(
        "lesions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=True),
        sa.Column("pathology_confirmed", sa.Boolean(), nullable=False),
        sa.Column("labelled_by_id", sa.Integer(), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("location", sa.String(length=32), nullable=True),
        sa.Column("layer_of_origin", sa.String(length=32), nullable=True),
        sa.Column("echo_pattern", sa.String(length=32), nullable=True),
        sa.Column("shape", sa.String(length=32), nullable=True),
        sa.Column("long_diameter_mm", sa.Float(), nullable=True),
        sa.Column("short_diameter_mm", sa.Float(), nullable=True),
        sa.Column("lobulation", sa.Boolean(), nullable=True),
        sa.Column("calcification", sa.Boolean(), nullable=True),
        sa.Column("cystic_areas", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            "label IN ('GIST', 'leiomyoma', 'other')", name=op.f("ck_lesions_label")
        ),
        sa.ForeignKeyConstraint(
            ["labelled_by_id"], ["annotators.id"], name=op.f("fk_lesions_labelled_by_id_annotators")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_lesions_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesions")),
        sa.UniqueConstraint("patient_id", "code", name=op.f("uq_lesions_patient_id_code")),
    )
    with op.batch_alter_table("lesions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lesions_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesion_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("n_bytes", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("spacing_y_mm", sa.Float(), nullable=True),
        sa.Column("spacing_x_mm", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("deidentified", sa.Boolean(), nullable=False),
        sa.Column("redacted", sa.Boolean(), nullable=False),
        sa.Column("imported_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["image_files.id"], name=op.f("fk_images_file_id_image_files")
        ),
        sa.ForeignKeyConstraint(
            ["imported_by_id"], ["annotators.id"], name=op.f("fk_images_imported_by_id_annotators")
        ),
        sa.ForeignKeyConstraint(
            ["lesion_id"], ["lesions.id"], name=op.f("fk_images_lesion_id_lesions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("file_id", name=op.f("uq_images_file_id")),
        sa.UniqueConstraint("source_sha256", name=op.f("uq_images_source_sha256")),
    )
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_images_lesion_id"), ["lesion_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_images_sha256"), ["sha256"], unique=False)

    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'accepted', 'rejected')",
            name=op.f("ck_annotations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_annotations_image_id_images")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["annotators.id"], name=op.f("fk_annotations_owner_id_annotators")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["annotators.id"],
            name=op.f("fk_annotations_reviewed_by_id_annotators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotations")),
        sa.UniqueConstraint("image_id", "owner_id", name=op.f("uq_annotations_image_id_owner_id")),
    )
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_annotations_image_id"), ["image_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_annotations_status"), ["status"], unique=False)

    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotation_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("mask_png", sa.LargeBinary(), nullable=False),
        sa.Column("area", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotation_id"],
            ["annotations.id"],
            name=op.f("fk_revisions_annotation_id_annotations"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["annotators.id"], name=op.f("fk_revisions_author_id_annotators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisions")),
        sa.UniqueConstraint(
            "annotation_id", "number", name=op.f("uq_revisions_annotation_id_number")
        ),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("revisions")
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_annotations_status"))
        batch_op.drop_index(batch_op.f("ix_annotations_image_id"))

    op.drop_table("annotations")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_images_sha256"))
        batch_op.drop_index(batch_op.f("ix_images_lesion_id"))

    op.drop_table("images")
    with op.batch_alter_table("lesions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lesions_patient_id"))

    op.drop_table("lesions")
    op.drop_table("settings")
    op.drop_table("patients")
    op.drop_table("image_files")
    op.drop_table("annotators")
