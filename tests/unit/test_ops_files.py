"""ops/alerts.yml and ops/dashboard.json: valid, and over metrics the app really serves at /metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import fakeredis
import pytest
import yaml

from tests.conftest import METRICS_TOKEN

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "ops" / "alerts.yml"
DASHBOARD = ROOT / "ops" / "dashboard.json"
METRIC = re.compile(r"\bbooking_[a-z_]+\b")
# What docs/operations.md says to alert on, each by the rule that does.
CONDITIONS = {"BookingBeatDown", "BookingQueueGrowing", "BookingSagasStuck", "BookingDebtsOpen",
              "BookingParticipantFailing"}


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def served_names(app) -> set[str]:
    """Every sample name /metrics can serve, including families with no sample yet."""
    app.extensions["metrics_broker"] = fakeredis.FakeRedis()
    scraper = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    text = app.test_client().get("/metrics", headers=scraper).get_data(as_text=True)
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}_{suffix}" for suffix in ("bucket", "count", "sum"))
    return names


def test_promtool_accepts_the_rules():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is needed (Debian: apt-get install prometheus; .ci/run installs it)")
    done = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_rule_has_a_severity_a_summary_and_a_for():
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= CONDITIONS
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["for"], rule["alert"]


def test_the_dashboard_is_a_grafana_dashboard_with_a_prometheus_query_per_panel():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in dashboard["panels"]:
        assert panel["targets"] and panel["datasource"]["type"] == "prometheus", panel["title"]


def test_every_metric_in_the_rules_and_the_dashboard_is_served(app):
    named = {name for expr in [rule["expr"] for rule in alert_rules()] + dashboard_exprs()
             for name in METRIC.findall(expr)}
    served = served_names(app)
    assert named, "no metric found in the files"
    assert named <= served, sorted(named - served)
    # And the dashboard shows every metric the app has.
    shown = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    families = {name for name in served if not name.endswith(("_created", "_bucket", "_sum"))}
    assert {name.removesuffix("_count") for name in families} <= {
        name.removesuffix("_bucket").removesuffix("_count") for name in shown}
