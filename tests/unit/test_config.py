"""Configuration: environments, production safety."""
from __future__ import annotations

import pytest

import config
from blog import create_app


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_production_starts_with_a_secret_key_and_secure_cookies(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "a-real-secret")
    monkeypatch.setattr(config.ProductionConfig, "LOG_FILE", str(tmp_path / "logs" / "blog.log"))
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert (tmp_path / "logs").is_dir()  # the rotating log file's folder exists


def test_blog_env_selects_the_configuration(monkeypatch):
    monkeypatch.setenv("BLOG_ENV", "testing")
    assert config.selected() is config.TestingConfig
    monkeypatch.setenv("BLOG_ENV", "staging")
    with pytest.raises(RuntimeError, match="BLOG_ENV"):
        config.selected()


def test_testing_uses_in_process_defaults_unless_real_servers_are_given(app):
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri == "sqlite://" or uri.startswith("postgresql")
    assert app.config["HUEY_IMMEDIATE"] is True


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(monkeypatch):
    import config as config_module

    monkeypatch.setattr(config_module.TestingConfig, "PROXY_COUNT", 1)
    app = create_app("testing")

    @app.get("/whoami")
    def whoami():
        from flask import request
        return request.remote_addr

    client = app.test_client()
    assert client.get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"}).text == "203.0.113.9"
    monkeypatch.setattr(config_module.TestingConfig, "PROXY_COUNT", 0)
    direct = create_app("testing")
    direct.add_url_rule("/whoami", view_func=whoami)
    assert direct.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"}).text == "127.0.0.1"
