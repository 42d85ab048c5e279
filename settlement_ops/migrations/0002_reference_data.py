from django.db import migrations

from settlement_ops.reference_data import ensure_reference_data


def create(apps, schema_editor):
    ensure_reference_data(apps.get_model("settlement_ops", "Market"), apps.get_model("settlement_ops", "ApprovalLimit"))


class Migration(migrations.Migration):
    dependencies = [("settlement_ops", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
