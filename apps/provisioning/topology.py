"""Dependency topology from the relations the inventory collects, and root-cause hints.

A node is a resource (``<platform>/<type>/<external id>``); an edge goes from a resource to what it
depends on (its vSwitch, VPC, security group, the instance a disk is attached to...). Only resources
the actor may read are named; a dependency outside their view appears with its cloud id only.

``root_cause`` takes resources that alert or fail together and ranks their upstream dependencies by
how many of them share it (then by nearness: a shared vSwitch before the VPC that holds it).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError

from apps.core.errors import InvalidInput, NotFound
from apps.resources.models import Resource, ResourceRelation
from apps.resources.selectors import resource_list

MAX_NODES = 500
MAX_DEPTH = 4
CATEGORIES = ["ecs.instance", "ecs.disk", "ecs.security_group", "vpc.vswitch", "vpc.vpc", "eip.eip", "slb.instance",
              "rds.instance", "redis.instance", "other"]
Key = tuple[str, str, str]
# Among equally shared and equally near dependencies, the network path is the likelier cause.
SUSPICION = {"vpc.vswitch": 0, "vpc.vpc": 1, "slb.instance": 2, "ecs.security_group": 3}


def _key(row: Resource) -> Key:
    return (row.platform_id, row.type, row.external_id)


def _node(key: Key, row: Resource | None) -> dict[str, Any]:
    return {"id": "/".join(key), "type": key[1], "external_id": key[2], "resource": row.id if row else None,
            "name": (row.name or row.external_id) if row else key[2], "status": row.status if row else "",
            "deleted": row.deleted if row else None,
            "category": CATEGORIES.index(key[1]) if key[1] in CATEGORIES else len(CATEGORIES) - 1}


def _upstream(actor: Any, seeds: list[Resource], depth: int = MAX_DEPTH
              ) -> tuple[dict[Key, Resource | None], list[tuple[Key, Key, str]], dict[Key, dict[Key, int]]]:
    """Walk dependencies out of ``seeds``. Returns nodes, edges and, per seed, each ancestor's distance."""
    visible = resource_list(actor=actor)
    nodes: dict[Key, Resource | None] = {_key(r): r for r in seeds}
    edges: list[tuple[Key, Key, str]] = []
    reach: dict[Key, dict[Key, int]] = {_key(r): {} for r in seeds}
    origin: dict[Key, set[Key]] = {_key(r): {_key(r)} for r in seeds}
    frontier = [r for r in seeds]
    for distance in range(1, depth + 1):
        if not frontier or len(nodes) > MAX_NODES:
            break
        rels = ResourceRelation.objects.filter(source_id__in=[r.id for r in frontier]).select_related("source")
        by_source: dict[str, list[ResourceRelation]] = defaultdict(list)
        for rel in rels:
            by_source[rel.source_id].append(rel)
        wanted = {(rel.platform_id, rel.target_type, rel.target_external_id) for rel in rels}
        found = {}
        if wanted:
            rows = visible.filter(platform_id__in={w[0] for w in wanted}, external_id__in={w[2] for w in wanted})
            found = {_key(r): r for r in rows if _key(r) in wanted}
        next_frontier = []
        for source in frontier:
            for rel in by_source.get(source.id, []):
                target = (rel.platform_id, rel.target_type, rel.target_external_id)
                edges.append((_key(source), target, rel.kind))
                for seed in origin.get(_key(source), set()):
                    reach[seed].setdefault(target, distance)
                    origin.setdefault(target, set()).add(seed)
                if target not in nodes:
                    nodes[target] = found.get(target)
                    if found.get(target) is not None:
                        next_frontier.append(found[target])
        frontier = next_frontier
    return nodes, edges, reach


def _graph(nodes: dict[Key, Resource | None], edges: list[tuple[Key, Key, str]]) -> dict[str, Any]:
    seen = set()
    links = []
    for a, b, kind in edges:
        if (a, b, kind) not in seen:
            seen.add((a, b, kind))
            links.append({"source": "/".join(a), "target": "/".join(b), "kind": kind})
    return {"nodes": [_node(k, r) for k, r in nodes.items()], "links": links,
            "categories": [{"name": c} for c in CATEGORIES]}


def graph_for(*, actor: Any, resource_id: str | None = None, project_id: str | None = None) -> dict[str, Any]:
    if bool(resource_id) == bool(project_id):
        raise InvalidInput("Give resource or project.", detail={"resource": ["resource or project"]})
    try:
        if resource_id:
            root = resource_list(actor=actor).filter(pk=resource_id).first()
            if root is None:
                raise NotFound("Resource not found.")
            nodes, edges, _reach = _upstream(actor, [root])
            # What depends on the resource (instances in a vSwitch, disks on an instance), one level.
            incoming = ResourceRelation.objects.filter(platform_id=root.platform_id, target_type=root.type,
                                                       target_external_id=root.external_id)
            dependants = resource_list(actor=actor).filter(pk__in=incoming.values("source_id"))[:MAX_NODES]
            for row in dependants:
                nodes.setdefault(_key(row), row)
                kind = next((r.kind for r in incoming if r.source_id == row.id), "depends_on")
                edges.append((_key(row), _key(root), kind))
            graph = _graph(nodes, edges)
            graph["root"] = "/".join(_key(root))
            return graph
        seeds = list(resource_list(actor=actor).filter(project_id=project_id, deleted=False)[:MAX_NODES])
    except (ValueError, ValidationError):
        raise NotFound("Not found.") from None
    nodes, edges, _reach = _upstream(actor, seeds, depth=2)
    return _graph(nodes, edges)


def root_cause(*, actor: Any, resource_ids: list[str]) -> dict[str, Any]:
    """Upstream dependencies shared by the given resources, ranked by how many share them."""
    if not 2 <= len(resource_ids) <= 500:
        raise InvalidInput("Give 2 to 500 resources that alert or fail together.",
                           detail={"resources": ["2..500 resource ids"]})
    seeds = list(resource_list(actor=actor).filter(pk__in=resource_ids))
    if len(seeds) < 2:
        raise InvalidInput("Fewer than two of those resources were found.", detail={"resources": ["not found"]})
    nodes, _edges, reach = _upstream(actor, seeds)
    counts: dict[Key, list[tuple[Key, int]]] = defaultdict(list)
    for seed, ancestors in reach.items():
        for ancestor, distance in ancestors.items():
            counts[ancestor].append((seed, distance))
    total = len(seeds)
    ranked = sorted(counts.items(), key=lambda kv: (-len(kv[1]), min(d for _s, d in kv[1]),
                                                   SUSPICION.get(kv[0][1], 9), kv[0]))
    candidates = []
    for key, sharers in ranked[:10]:
        if len(sharers) < 2:
            break
        row = nodes.get(key)
        candidates.append({**_node(key, row), "shared_by": len(sharers), "of": total,
                           "share": round(len(sharers) / total, 3), "distance": min(d for _s, d in sharers),
                           "resources": sorted(nodes[s].id for s, _d in sharers if nodes.get(s))})
    hint = ""
    if candidates:
        top = candidates[0]
        hint = (f"{top['shared_by']} of {total} resources depend on {top['type']} {top['name']}: "
                f"look there first.")
    return {"resources": total, "candidates": candidates, "hint": hint}
