"""Optional user/password check shared by the HTTP and native servers."""

from __future__ import annotations

import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class Auth:
    """With `password` None every user is accepted (the loopback default); otherwise the
    user must be `user` with exactly `password`."""

    user: str = "default"
    password: str | None = None

    @property
    def enabled(self) -> bool:
        return self.password is not None

    def check(self, user: str | None, password: str | None) -> bool:
        if not self.enabled:
            return True
        user_ok = hmac.compare_digest((user or "default").encode(), self.user.encode())
        pass_ok = hmac.compare_digest((password or "").encode(), (self.password or "").encode())
        return user_ok and pass_ok

    def failure_message(self, user: str | None) -> str:
        name = user or "default"
        return (
            f"Code: 516. DB::Exception: {name}: Authentication failed: password is incorrect, "
            "or there is no user with such name. (AUTHENTICATION_FAILED)"
        )
