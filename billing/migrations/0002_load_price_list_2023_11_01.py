"""R-PL-1: the offer's price list, effective 2023-11-01, ships as data."""

from pathlib import Path

from django.db import migrations

CSV = Path(__file__).resolve().parent.parent / "data" / "price-list-2023-11-01.csv"


def load(apps, schema_editor):
    from billing.pricing import parse_price_list_csv

    PriceList = apps.get_model("billing", "PriceList")
    PriceTier = apps.get_model("billing", "PriceTier")
    Price = apps.get_model("billing", "Price")
    parsed = parse_price_list_csv(CSV.read_bytes())
    if PriceList.objects.filter(effective_from=parsed.effective_from).exists():
        return
    price_list = PriceList.objects.create(
        effective_from=parsed.effective_from,
        name="Price list 01 November 2023",
        source_filename=CSV.name,
    )
    PriceTier.objects.bulk_create(
        PriceTier(
            price_list=price_list,
            tier=b.tier,
            prepaid_min=b.prepaid_min,
            prepaid_max=b.prepaid_max,
            postpaid_min=b.postpaid_min,
            postpaid_max=b.postpaid_max,
        )
        for b in parsed.tiers
    )
    Price.objects.bulk_create(
        Price(price_list=price_list, tier=tier, channel=channel, operator=operator, unit_price=price)
        for (tier, channel, operator), price in sorted(parsed.prices.items())
    )


def unload(apps, schema_editor):
    apps.get_model("billing", "PriceList").objects.filter(effective_from="2023-11-01").delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
