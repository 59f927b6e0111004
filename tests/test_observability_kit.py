"""The compose observability kit, checked without pulling images: the Prometheus config scrapes
the services that exist, Grafana is provisioned with it, and every metric the dashboard queries
is one that the API's /metrics exposes."""

import json
import re

import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.settings import PROJECT_ROOT
from tests.conftest import GraphQLClient

KIT = PROJECT_ROOT / "docs" / "observability"
COMPOSE = PROJECT_ROOT / "docker-compose.yml"
METRIC = re.compile(r"\b(recommender_[a-z0-9_]+)")
SUFFIXES = ("", "_total", "_count", "_sum", "_bucket", "_created")


def dashboard_queries() -> list[str]:
    dashboard = json.loads((KIT / "recommender-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_compose_mounts_the_kit_and_prometheus_scrapes_its_services() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":", 1)[0]
            assert (PROJECT_ROOT / source).is_file(), volume
    config = yaml.safe_load((KIT / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["api"]["dns_sd_configs"][0]["names"] == ["api"]
    assert jobs["api"]["dns_sd_configs"][0]["port"] == 8000
    assert "8000" in " ".join(services["api"]["command"])
    trainer_port = services["trainer"]["environment"]["TRAINER_METRICS_PORT"]
    assert jobs["trainer"]["static_configs"][0]["targets"] == [f"trainer:{trainer_port}"]
    datasources = yaml.safe_load((KIT / "grafana-datasources.yml").read_text())["datasources"]
    dashboard = json.loads((KIT / "recommender-dashboard.json").read_text())
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    assert uids == {datasources[0]["uid"]}
    assert datasources[0]["url"] == "http://prometheus:9090"


async def test_every_metric_the_dashboard_queries_is_exposed(client: GraphQLClient) -> None:
    text = (await client.http.get("/metrics")).text
    exposed: set[str] = set()
    for family in text_string_to_metric_families(text):
        exposed.update(family.name + suffix for suffix in SUFFIXES)
        exposed.update(sample.name for sample in family.samples)
    queried = {name for expr in dashboard_queries() for name in METRIC.findall(expr)}
    assert len(queried) >= 12
    assert queried - exposed == set()


def test_the_dashboard_has_the_panels_operators_asked_for() -> None:
    dashboard = json.loads((KIT / "recommender-dashboard.json").read_text())
    titles = " | ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for wanted in (
        "request rate",
        "latency",
        "errors by code",
        "cache hit ratio",
        "model version",
        "model age",
        "event ingestion",
    ):
        assert wanted in titles
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
