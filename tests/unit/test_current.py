"""blog.current: the request and app themselves, in a request, and a clear answer outside one."""
from __future__ import annotations

import pytest
from flask import request

from blog import current


def test_inside_a_request_they_are_the_objects_behind_flasks_proxies(app):
    with app.test_request_context("/blog/some-post?x=1"):
        assert current.request() is request._get_current_object()
        assert current.environ() is request.environ
        assert current.environ()["PATH_INFO"] == "/blog/some-post"
        assert current.app() is app and current.config() is app.config


def test_outside_a_request_there_is_no_environ_and_no_request(app):
    with app.app_context():  # mail, the CLI, tasks
        assert current.environ() is None
        assert current.config() is app.config
        with pytest.raises(RuntimeError):
            current.request()


def test_the_user_is_whom_current_user_stands_for(app):
    from flask_login import current_user
    from flask_login import login_user

    from tests.factories import make_user

    user = make_user(username="here")
    with app.test_request_context("/"):
        assert current.user().is_authenticated is False
        assert current.user() is current_user._get_current_object()
    with app.test_request_context("/"):
        login_user(user)
        assert current.user() is user


@pytest.mark.parametrize(("headers", "brings"), [
    ({}, False),
    ({"Cookie": "theme=dark"}, False),  # a cookie of someone else's making
    ({"Cookie": "session=abc"}, True),
    ({"Cookie": "theme=dark; remember_token=1|x"}, True),
    ({"Authorization": "Bearer t"}, True),
])
def test_only_a_session_remember_me_cookie_or_authorization_counts_as_credentials(app, headers, brings):
    with app.test_request_context("/", headers=headers):
        assert current.brings_credentials(current.request(), app.config) is brings
