"""The product's settings, for the drills' ``collectstatic`` only: the same files and
manifest in the same ``STATIC_ROOT`` (``var/static``), without the compressed copies, which
take a minute to make and which no drill reads. The product's processes run with
``otpportal.settings``; WhiteNoise serves the files uncompressed when no ``.gz`` is there."""

from otpportal.settings import *  # noqa: F403
from otpportal.settings import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
