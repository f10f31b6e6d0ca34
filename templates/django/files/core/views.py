import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/index.html",
        {"project_name": settings.PROJECT_NAME, "django_version": django.get_version()},
    )


def health(request: HttpRequest) -> JsonResponse:
    """Liveness probe used by devhost (and docker compose)."""
    return JsonResponse({"status": "ok"})
