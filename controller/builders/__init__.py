"""Pure builders of Kubernetes objects and patches (no I/O): see ``workloads``, ``routing``."""

from controller.builders.meta import Owner, controlled_by, env_value, in_place
from controller.builders.routing import (
    canary_ingress,
    ingress_mirror,
    ingress_mirror_patch,
    ingress_weight,
    mirror_url,
    mirrored_rules,
    route_mirror,
    route_weight,
    weighted_rules,
)
from controller.builders.workloads import (
    HELD_FROM,
    canary_deployment,
    canary_hpa,
    canary_service,
    floor_in_place,
    hpa_floor_patch,
    promote_patch,
    promoted,
)

__all__ = [
    "HELD_FROM",
    "Owner",
    "canary_deployment",
    "canary_hpa",
    "canary_ingress",
    "canary_service",
    "controlled_by",
    "env_value",
    "floor_in_place",
    "hpa_floor_patch",
    "in_place",
    "ingress_mirror",
    "ingress_mirror_patch",
    "ingress_weight",
    "mirror_url",
    "mirrored_rules",
    "promote_patch",
    "promoted",
    "route_mirror",
    "route_weight",
    "weighted_rules",
]
