from django.urls import path

from bench.ceiling.views import ItemApi

urlpatterns = [path("c1/<int:pk>", ItemApi.as_view())]
