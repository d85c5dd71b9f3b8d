"""C1: one DRF APIView, one SELECT by primary key, a small JSON answer."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.ceiling.models import Item


class ItemApi(APIView):
    def get(self, request: Request, pk: int) -> Response:
        row = Item.objects.filter(pk=pk).values("id", "name", "created_at").first()
        if row is None:
            return Response({"error": "not found"}, status=404)
        return Response(row)
