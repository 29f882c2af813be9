"""Passwords: at least 8 characters that are not all whitespace, and none of the most common ones."""

from __future__ import annotations

import pytest

from tests.unit.web_browser import Browser

REFUSED = ["        ", " \t      \n", "12345678", "password", "Password1", "qwertyuiop", "iloveyou",
           "123456789", "11111111", "  12345678  "]
ACCEPTED = ["correct horse", "analytical engine", "a long, odd sentence", "Tr0ub4dor&3x"]


def register(client, password: str):
    return client.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": password,
                                                       "name": "Ada"})


@pytest.mark.parametrize("password", REFUSED)
def test_weak_passwords_are_refused_by_the_api(client, password):
    refused = register(client, password)
    assert refused.status_code == 422
    assert "password" in refused.get_json()["errors"]


@pytest.mark.parametrize("password", ACCEPTED)
def test_reasonable_passwords_are_accepted(client, password):
    assert register(client, password).status_code == 201


@pytest.mark.parametrize("password", ["12345678", "        "])
def test_the_sign_up_page_refuses_them_too(app, password):
    browser = Browser(app)
    browser.get("/signup")
    response = browser.post_form("/signup", {"name": "Ada", "email": "ada@example.com", "password": password})
    assert response.status_code == 422
    assert 'id="field-password-error"' in response.get_data(as_text=True)


def test_the_list_is_shipped_and_sane():
    from app.passwords import COMMON_PASSWORDS

    assert len(COMMON_PASSWORDS) >= 100
    assert "12345678" in COMMON_PASSWORDS and "password" in COMMON_PASSWORDS
    assert all(word == word.lower() for word in COMMON_PASSWORDS)
