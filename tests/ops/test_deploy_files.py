"""The example alert rules and scrape config in deploy/ parse, and every Xiaoer metric a rule
uses is one the processes export (a renamed metric would silently never fire)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import xiaoer.metrics  # noqa: F401 - registers the metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _exported() -> set[str]:
    suffixes = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",)}
    names = set()
    for metric in REGISTRY.collect():
        names.add(metric.name)
        names.update(metric.name + s for s in suffixes.get(metric.type, ()))
    return names


def test_alert_rules_use_only_exported_metrics_and_say_how_bad() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    exported = _exported()
    seen = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            assert rule["annotations"]["summary"]
            for used in re.findall(r"\bxiaoer_[a-z_]+", rule["expr"]):
                assert used in exported, f"{rule['alert']} uses unknown metric {used}"
            seen.add(rule["alert"])
    assert {"HostCpuAbove80Percent", "JobLagHigh", "HttpErrorRateHigh", "BackupTooOld"} <= seen


def test_scrape_config_and_proxy_example_are_complete() -> None:
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert scrape["rule_files"]
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
    assert "location /ws/" in nginx
