"""Kubernetes NetworkPolicy semantics (ingress) over pods described by their labels and namespace.

A connection src -> dst:port is allowed when no policy of dst's namespace selects dst for Ingress, or when
at least one such policy has a rule whose peers match src and whose ports match the port (a rule without
`from` matches every source, one without `ports` every port). A peer's podSelector alone means dst's
namespace; with a namespaceSelector, the namespaces it matches ({} = all). ipBlock peers match no pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: dict[str, str]
    namespace_labels: dict[str, str] = field(default_factory=dict)

    def ns_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}


def selects(selector: dict | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics; {} selects everything, None nothing."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _peer_matches(peer: dict, src: Pod, dst_namespace: str) -> bool:
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], src.ns_labels()):
            return False
    elif src.namespace != dst_namespace:
        return False
    return selects(peer.get("podSelector", {}), src.labels)


def _port_matches(rule: dict, port: int) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != "TCP":
            continue
        start, end = p.get("port"), p.get("endPort")
        if start is None or (end is None and start == port) or (end is not None and start <= port <= end):
            return True
    return False


def allowed(policies: list[dict], src: Pod, dst: Pod, port: int) -> bool:
    """Whether src may open a TCP connection to dst:port under these policies (ingress side)."""
    isolating = [
        p
        for p in policies
        if (p["metadata"].get("namespace") or dst.namespace) == dst.namespace
        and selects(p["spec"].get("podSelector", {}), dst.labels)
        and "Ingress" in (p["spec"].get("policyTypes") or ["Ingress"])
    ]
    if not isolating:
        return True
    for policy in isolating:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            if (not peers or any(_peer_matches(peer, src, dst.namespace) for peer in peers)) and _port_matches(
                rule, port
            ):
                return True
    return False
