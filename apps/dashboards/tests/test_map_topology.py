"""Map and topology widgets: regions placed on the map, the inventory's relations as a graph, both
narrowed to what the viewer may see."""

from __future__ import annotations

import pytest

from apps.core.widgets import QueryScope, get_query, run_query
from apps.dashboards.document import clean_document
from apps.dashboards.inventory_queries import place_of
from apps.resources.models import ResourceRelation
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_known_regions_and_apsara_stack_regions_get_a_place_and_unknown_ones_none():
    assert place_of("cn-hangzhou") == place_of("cn-hangzhou-env17-d01")
    assert place_of("eu-central-1")[1] > 45
    assert place_of("moon-base-1") is None
    assert place_of("cn") is None


def test_the_map_counts_resources_per_region_the_viewer_sees(django_user_model):
    a, b = f.org("A"), f.org("B")
    pa, pb = f.platform(a, name="pa"), f.platform(b, name="pb")
    for region in ("cn-hangzhou", "cn-hangzhou", "cn-beijing", "lab-7"):
        f.resource(pa, organization=a, region=region)
    f.resource(pb, organization=b, region="us-east-1")
    result = run_query(get_query("resources.places"), QueryScope(None, organization_ids=[a.pk]), {})
    places = {p["name"]: p for p in result["places"]}
    assert {n: p["value"] for n, p in places.items()} == {"cn-hangzhou": 2, "cn-beijing": 1, "lab-7": 1}
    assert places["lab-7"]["lon"] is None and places["cn-beijing"]["lat"] == pytest.approx(39.9)


def test_the_topology_links_related_resources_and_leaves_out_what_the_viewer_cannot_see():
    a, b = f.org("A"), f.org("B")
    platform = f.platform(a, name="pa")
    vpc = f.resource(platform, organization=a, type="vpc.vpc", external_id="vpc-1", name="main")
    vsw = f.resource(platform, organization=a, type="vpc.vswitch", external_id="vsw-1")
    ecs = f.resource(platform, organization=a, type="ecs.instance", external_id="i-1")
    hidden = f.resource(platform, organization=b, type="ecs.instance", external_id="i-2", name="secret")
    edges = ((vsw, "in_vpc", "vpc.vpc", "vpc-1"), (ecs, "in_vswitch", "vpc.vswitch", "vsw-1"),
             (hidden, "in_vswitch", "vpc.vswitch", "vsw-1"), (ecs, "uses", "ecs.disk", "d-gone"))
    for source, kind, target_type, target in edges:
        ResourceRelation.objects.create(source=source, platform=platform, kind=kind, target_type=target_type,
                                        target_external_id=target)
    result = run_query(get_query("resources.topology"), QueryScope(None, organization_ids=[a.pk]), {})
    assert {n["id"] for n in result["nodes"]} == {vpc.pk, vsw.pk, ecs.pk}
    assert {(link["source"], link["target"]) for link in result["links"]} == {(vsw.pk, vpc.pk), (ecs.pk, vsw.pk)}
    assert result["groups"] == ["ecs.instance", "vpc.vpc", "vpc.vswitch"]
    everyone = run_query(get_query("resources.topology"), QueryScope(None, organization_ids=[a.pk, b.pk]), {})
    assert hidden.pk in {n["id"] for n in everyone["nodes"]}


def test_a_map_widget_takes_only_the_places_shape_and_a_topology_only_the_graph():
    def doc(kind, query):
        widget = {"id": "w", "type": kind, "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
                  "query": {"name": query, "params": {}}}
        return {"uid": "geo", "title": "Geo", "widgets": [widget]}

    assert clean_document(doc("map", "resources.places"))["widgets"][0]["type"] == "map"
    assert clean_document(doc("topology", "resources.topology"))["widgets"][0]["type"] == "topology"
    from apps.core.errors import InvalidInput

    for kind, query in (("map", "resources.by"), ("topology", "resources.places"), ("bar", "resources.topology")):
        with pytest.raises(InvalidInput) as refused:
            clean_document(doc(kind, query))
        assert "widgets[0].type" in refused.value.detail
