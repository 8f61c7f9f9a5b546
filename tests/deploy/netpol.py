"""Who may connect to whom under a set of Kubernetes NetworkPolicies, for tests/deploy.

Written here because no maintained Python library evaluates NetworkPolicies offline (the
real judges are the CNI plugins in a cluster). It follows the API's documented semantics
(networking.k8s.io/v1): a pod that no policy of a direction selects is open in that
direction; a selected pod allows only what some selecting policy's rules allow; a connection
needs both the source's egress and the destination's ingress. Enough for the shapes the
manifests use (podSelector and namespaceSelector with matchLabels/matchExpressions, ipBlock,
numeric ports); a named port or an unknown operator fails loudly rather than guessing.
"""

import ipaddress
from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """A pod (with its namespace's labels), or an address outside the cluster."""

    name: str
    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)
    ip: str | None = None

    @property
    def is_pod(self) -> bool:
        """Whether this is a pod (else an address outside the cluster)."""
        return self.ip is None


def selects(selector: Object | None, labels: dict[str, str]) -> bool:
    """Whether a label selector matches `labels` (an empty selector matches everything)."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator!r}")
    return True


def _peer_matches(peer: Object, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.is_pod or other.ip is None:
            return False
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(c) for c in block.get("except", []))
    if not other.is_pod:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector"), other.labels)


def _port_matches(ports: list[Object] | None, port: int) -> bool:
    if not ports:
        return True
    for entry in ports:
        if "port" not in entry:
            return True
        if not isinstance(entry["port"], int):
            raise ValueError(f"named port {entry['port']!r}: not evaluated here")
        if entry["port"] <= port <= entry.get("endPort", entry["port"]):
            return True
    return False


def _direction_allows(
    policies: list[Object], direction: str, subject: Endpoint, other: Endpoint, port: int
) -> bool:
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    applying = [
        policy
        for policy in policies
        if subject.is_pod
        and policy["metadata"].get("namespace", "") == subject.namespace
        and selects(policy["spec"]["podSelector"], subject.labels)
        and direction in policy["spec"].get("policyTypes", ["Ingress"])
    ]
    if not applying:
        return True
    for policy in applying:
        namespace = policy["metadata"].get("namespace", "")
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(p, namespace, other) for p in peers)
            if peer_ok and _port_matches(rule.get("ports"), port):
                return True
    return False


def allowed(policies: list[Object], source: Endpoint, destination: Endpoint, port: int) -> bool:
    """Whether `source` may open a TCP connection to `destination` on `port`."""
    return _direction_allows(policies, "Egress", source, destination, port) and (
        _direction_allows(policies, "Ingress", destination, source, port)
    )
