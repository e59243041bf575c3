"""Alerts: a failing run posts one message with its assets and a run link to a local HTTP
receiver; failed checks of a successful run are posted too; without a webhook, the log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
from endpoint_support import local_endpoint, patched_environ
from pyassets_support import RFM

from orchestration.defs.alerts.sensors import alert_failed_checks, alert_run_failures
from orchestration.defs.alerts.webhook import WEBHOOK_ENV, WEBSERVER_ENV, Alert, send
from orchestration.defs.analytics.definitions import build_analytics_defs
from orchestration.defs.resources import clickhouse_resource

pytestmark = [pytest.mark.integration, pytest.mark.example]  # uses the shipped Jaffle Shop example


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    with patched_environ({WEBHOOK_ENV: server.url, WEBSERVER_ENV: "http://127.0.0.1:13500"}):
        yield server
    server.close()


@pytest.fixture(scope="module")
def analytics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dg.Definitions]:
    """The Python assets alone (marts as external specs) on an endpoint that has no marts."""
    with local_endpoint(tmp_path_factory.mktemp("alerts") / "warehouse"):
        own = build_analytics_defs()
        yield dg.Definitions.merge(
            own,
            dg.Definitions(
                assets=[
                    dg.AssetSpec(["marts", "orders"]),
                    dg.AssetSpec(["marts", "daily_location_metrics"]),
                ],
                resources={"clickhouse": clickhouse_resource()},
            ),
        )


def _failure_event(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterEvent:
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    return records[0].dagster_event


def test_failing_run_posts_one_message_with_its_assets(
    analytics: dg.Definitions, receiver: Receiver
) -> None:
    job = analytics.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, asset_selection=[RFM], raise_on_error=False
        )
        assert not result.success  # marts.orders does not exist here
        run = instance.get_run_by_id(result.run_id)
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_run_failures",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=_failure_event(instance, result.run_id),
        ).for_run_failure()
        alert_run_failures(context)

    assert len(receiver.received) == 1
    message = receiver.received[0]
    assert message["kind"] == "run_failure"
    assert message["assets"] == ["analytics/customer_rfm"]
    assert message["run_id"] == result.run_id
    assert message["run_url"] == f"http://127.0.0.1:13500/runs/{result.run_id}"
    assert "marts.orders does not exist" in " ".join(message["details"])
    assert "analytics/customer_rfm" in message["text"] and message["run_url"] in message["text"]


def test_failed_checks_of_a_successful_run_are_posted(receiver: Receiver) -> None:
    asset = dg.AssetKey(["analytics", "probe"])

    @dg.asset(key=asset)
    def probe() -> None:
        return None

    @dg.asset_check(asset=asset, name="always_fails")
    def always_fails() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False)

    with dg.instance_for_test() as instance:
        result = dg.materialize([probe, always_fails], instance=instance)
        assert result.success  # a non-blocking check does not fail the run
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_failed_checks",
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            dagster_event=instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)[
                0
            ].dagster_event,
        )
        alert_failed_checks(context)

    assert [m["checks"] for m in receiver.received] == [["analytics/probe:always_fails"]]
    assert receiver.received[0]["assets"] == ["analytics/probe"]


def test_without_a_webhook_the_alert_goes_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    alert = Alert("run_failure", "Dagster run failed", "abc", "job", "http://x/runs/abc", ["a/b"])
    with patched_environ({WEBHOOK_ENV: ""}):
        logger = dg.get_dagster_logger("alerts-test")
        assert send(alert, logger) is False
    assert "no ELT_ALERT_WEBHOOK_URL set" in caplog.text and "a/b" in caplog.text


def test_a_webhook_that_is_not_http_is_refused() -> None:
    alert = Alert("run_failure", "t", "abc", "job", "http://x/runs/abc")
    with (
        patched_environ({WEBHOOK_ENV: "file:///etc/passwd"}),
        pytest.raises(ValueError, match="is not an http"),
    ):
        send(alert, dg.get_dagster_logger("alerts-test"))
