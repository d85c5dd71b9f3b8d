"""Ceiling C1: a bare DRF view doing one indexed SELECT, served by the same
gunicorn command line as the product, with settings of its own (no project
middleware, no authentication, no throttles)."""
