"""Reading prometheus-client's default registry in tests: values and the names exported."""

from prometheus_client import REGISTRY

#: Sample names each metric type adds to its family name.
_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
}


def value(name: str, **labels: str) -> float:
    """A sample's value now; 0 for a series not (yet) there."""
    found = REGISTRY.get_sample_value(name, labels)
    return found if found is not None else 0.0


def exported_names() -> set[str]:
    """Every sample name the services export (what a query may select)."""
    import shared.observability.metrics  # noqa: F401  (defines them)

    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("ketenpas_"):
            names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def documented_names() -> set[str]:
    """Each metric as the docs name it: a counter with `_total`, a histogram by its family."""
    import shared.observability.metrics  # noqa: F401  (defines them)

    written = {"counter": "_total", "gauge": "", "histogram": ""}
    return {
        family.name + written[family.type]
        for family in REGISTRY.collect()
        if family.name.startswith("ketenpas_")
    }
