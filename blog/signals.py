"""Domain events (blinker). Senders are services; receivers live in blog/handlers.py, never in views."""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A new account was created: ``user`` (sent before the transaction commits, so mail joins it).
user_registered = _signals.signal("user-registered")
#: A password was changed or reset: ``user`` (sent before the commit, likewise).
password_changed = _signals.signal("password-changed")
