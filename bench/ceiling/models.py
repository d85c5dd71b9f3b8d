"""The small table C1 reads (created by the bench's setup, not by migrations)."""

from __future__ import annotations

from django.db import models

TABLE = "bench_ceiling_item"


class Item(models.Model):
    name = models.CharField(max_length=40)
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = TABLE

    def __str__(self) -> str:
        return self.name
