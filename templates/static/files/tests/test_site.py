"""Checks that every page in public/ only links to files that exist.

Run with:  python3 -m unittest
"""

import unittest
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

PUBLIC = Path(__file__).resolve().parent.parent / "public"


class LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)
        if tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def parse(page: Path) -> LinkCollector:
    collector = LinkCollector()
    collector.feed(page.read_text(encoding="utf-8"))
    return collector


class SiteTests(unittest.TestCase):
    def test_index_exists_and_has_a_title(self):
        index = PUBLIC / "index.html"
        self.assertTrue(index.is_file())
        self.assertEqual(parse(index).title.strip(), "{{project_name}}")

    def test_local_links_resolve(self):
        pages = sorted(PUBLIC.rglob("*.html"))
        self.assertTrue(pages)
        for page in pages:
            for link in parse(page).links:
                parts = urlsplit(link)
                if parts.scheme or parts.netloc or not parts.path:
                    continue  # external link, or just an #anchor
                if parts.path.startswith("/"):
                    target = PUBLIC / parts.path.lstrip("/")
                else:
                    target = page.parent / parts.path
                if target.is_dir():
                    target = target / "index.html"
                with self.subTest(page=page.name, link=link):
                    self.assertTrue(target.is_file(), f"{page.name} links to missing {link}")


if __name__ == "__main__":
    unittest.main()
