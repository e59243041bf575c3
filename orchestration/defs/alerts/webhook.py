"""Alerts to a webhook from the environment (ELT_ALERT_WEBHOOK_URL), or to the log when none
is set. The JSON body has a Slack-style `text` plus the fields a receiver can route on."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

WEBHOOK_ENV = "ELT_ALERT_WEBHOOK_URL"
WEBSERVER_ENV = "ELT_DAGSTER_URL"  # base of the run links
DEFAULT_WEBSERVER = "http://127.0.0.1:3000"
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Alert:
    kind: str  # run_failure | check_failure | maintenance
    title: str
    run_id: str
    job: str
    run_url: str
    assets: Sequence[str] = field(default_factory=list)
    checks: Sequence[str] = field(default_factory=list)  # "<asset key>:<check name>"
    details: Sequence[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        lines = [f"{self.title} — {self.job} run {self.run_id[:8]}: {self.run_url}"]
        if self.assets:
            lines.append("assets: " + ", ".join(self.assets))
        if self.checks:
            lines.append("failed checks: " + ", ".join(self.checks))
        lines += list(self.details)
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, **asdict(self)}


def run_url(run_id: str) -> str:
    base = os.environ.get(WEBSERVER_ENV, DEFAULT_WEBSERVER).rstrip("/")
    return f"{base}/runs/{run_id}"


def webhook_url() -> str | None:
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if not url:
        return None
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise ValueError(f"{WEBHOOK_ENV}: {url!r} is not an http(s) URL")
    return url


def send(alert: Alert, log: Any) -> bool:
    """POST the alert; log it instead when no webhook is configured. True when posted."""
    url = webhook_url()
    if url is None:
        log.warning(f"alert (no {WEBHOOK_ENV} set): {alert.text}")
        return False
    # http(s) only: webhook_url checked the scheme
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(alert.payload()).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        response.read()
    log.info(f"alert posted to {urlparse(url).netloc}: {alert.title}")
    return True
