from django.db import migrations

# Level, name, days to wait (level 1: after the due date; later levels: after the previous notice).
DEFAULT_LADDER = [(1, "Friendly reminder", 3), (2, "Second reminder", 10), (3, "Final notice", 14)]


def create_ladder(apps, schema_editor):
    Market = apps.get_model("settlement_ops", "Market")
    DunningLevel = apps.get_model("receivables", "DunningLevel")
    for market in Market.objects.all():
        for level, name, wait_days in DEFAULT_LADDER:
            DunningLevel.objects.get_or_create(market=market, level=level, defaults={"name": name, "wait_days": wait_days})


class Migration(migrations.Migration):
    dependencies = [("receivables", "0001_initial"), ("settlement_ops", "0002_reference_data")]
    operations = [migrations.RunPython(create_ladder, migrations.RunPython.noop)]
