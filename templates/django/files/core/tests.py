from django.test import TestCase
from django.urls import reverse


class HealthTests(TestCase):
    def test_health_reports_ok(self):
        response = self.client.get(reverse("health"))
        self.assertEqual(response.status_code, 200)
        self.assertJSONEqual(response.content, {"status": "ok"})


class IndexTests(TestCase):
    def test_index_names_the_project(self):
        response = self.client.get(reverse("index"))
        self.assertContains(response, "{{project_name}}")
        self.assertTemplateUsed(response, "core/index.html")
