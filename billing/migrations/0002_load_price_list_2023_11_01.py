"""R-PL-1: the offer's price list, effective 2023-11-01, ships as data."""

from pathlib import Path

from django.db import migrations

CSV = Path(__file__).resolve().parent.parent / "data" / "price-list-2023-11-01.csv"


def load(apps, schema_editor):
    from billing.pricing import parse_price_list_csv, write_price_list

    PriceList = apps.get_model("billing", "PriceList")
    PriceTier = apps.get_model("billing", "PriceTier")
    Price = apps.get_model("billing", "Price")
    parsed = parse_price_list_csv(CSV.read_bytes())
    if PriceList.objects.filter(effective_from=parsed.effective_from).exists():
        return
    write_price_list(
        parsed,
        models=(PriceList, PriceTier, Price),
        name="Price list 01 November 2023",
        source_filename=CSV.name,
    )


def unload(apps, schema_editor):
    apps.get_model("billing", "PriceList").objects.filter(effective_from="2023-11-01").delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
