"""Drop the inventory's indexes that duplicate another's leading columns.

Django gives every foreign key an index of its own (and, on PostgreSQL, a ``varchar_pattern_ops`` copy
for text keys); the list's ``(platform, -id)``, ``(organization, -id)`` and ``(project, -id)`` indexes,
the ``(platform, type, external_id)`` constraint, and the relations' ``relation_unique`` (source first)
and ``relation_target`` (platform first) already lead with those columns. The primary key's pattern
copy serves ``LIKE 'prefix%'`` on the id, which nothing asks. Each index is kept up to date on every
insert of a collection: 5 of the inventory's 17 and 4 of the relations' 7.
"""

import django.db.models.deletion
from django.db import migrations, models

# The primary key's pattern index, as Django's PostgreSQL schema editor named it in 0001.
ID_LIKE = "resources_resource_id_5d0bd8cd_like"


def drop_id_pattern_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{ID_LIKE}"')


def create_id_pattern_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{ID_LIKE}" ON "resources_resource" '
                              '("id" varchar_pattern_ops)')


class Migration(migrations.Migration):

    dependencies = [
        ('resources', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='resource',
            name='organization',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='organizations.organization'),
        ),
        migrations.AlterField(
            model_name='resource',
            name='platform',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='resources', to='clouds.cloudplatform'),
        ),
        migrations.AlterField(
            model_name='resource',
            name='project',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='organizations.project'),
        ),
        migrations.AlterField(
            model_name='resourcerelation',
            name='platform',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='clouds.cloudplatform'),
        ),
        migrations.AlterField(
            model_name='resourcerelation',
            name='source',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='relations', to='resources.resource'),
        ),
        migrations.RunPython(drop_id_pattern_index, create_id_pattern_index),
    ]
