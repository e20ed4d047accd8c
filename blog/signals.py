"""Domain events (blinker). Senders are services; receivers live in blog/handlers.py, never in views."""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A new account was created: ``user`` (sent before the transaction commits, so mail joins it).
user_registered = _signals.signal("user-registered")
#: A password was changed or reset: ``user`` (sent before the commit, likewise).
password_changed = _signals.signal("password-changed")
#: A post went live (published now, or a scheduled post came due): ``post``.
post_published = _signals.signal("post-published")
#: A post was saved again (content, status or taxonomy changed): ``post``.
post_updated = _signals.signal("post-updated")
#: A post was deleted: ``post_id`` and ``slug`` (the row is gone when receivers run).
post_deleted = _signals.signal("post-deleted")
#: A comment became visible (approved on arrival or by a moderator): ``comment``.
comment_approved = _signals.signal("comment-approved")
