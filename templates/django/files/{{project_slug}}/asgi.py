"""ASGI entry point for {{project_name}} (for a server such as uvicorn)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{{project_slug}}.settings")

application = get_asgi_application()
