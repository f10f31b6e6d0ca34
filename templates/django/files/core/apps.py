import logging

from django.apps import AppConfig


def _not_a_health_check(record: logging.LogRecord) -> bool:
    return "/healthz" not in record.getMessage()


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "core"

    def ready(self) -> None:
        # devhost probes /healthz every second: keep those requests out of runserver's log.
        logging.getLogger("django.server").addFilter(_not_a_health_check)
