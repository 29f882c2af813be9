"""A test client that behaves like a browser on the UI: a cookie jar, the page's CSRF token, forms."""

from __future__ import annotations

import re

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
PASSWORD = "correct horse"


class Browser:
    """Each request in its own app context, as in production, so nothing on `g` leaks between them."""

    def __init__(self, app) -> None:
        self.app = app
        self.client = app.test_client()
        self.csrf = ""

    def open(self, method: str, url: str, **kwargs):
        with self.app.app_context():
            response = self.client.open(url, method=method, **kwargs)
        found = response.mimetype == "text/html" and CSRF_META.search(response.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return response

    def get(self, url: str, **kwargs):
        return self.open("GET", url, **kwargs)

    def post_form(self, url: str, data: dict, *, csrf: bool = True, **kwargs):
        """A form as the page posts it: with the token from the last page loaded, unless `csrf=False`."""
        if not self.csrf:
            self.get("/login")
        fields = {**data, "csrf_token": self.csrf} if csrf else data
        return self.open("POST", url, data=fields, **kwargs)

    def api(self, method: str, url: str, *, csrf: bool = True, **kwargs):
        """A fetch() from a page: the session cookie, and X-CSRFToken unless `csrf=False`."""
        if not self.csrf:
            self.get("/")
        headers = {**({"X-CSRFToken": self.csrf} if csrf else {}), **kwargs.pop("headers", {})}
        return self.open(method, url, headers=headers, **kwargs)

    def log_in(self, user, password: str = PASSWORD):
        self.get("/login")
        response = self.post_form("/login", {"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        self.get("/")  # the session got a new CSRF token at login
        return response
