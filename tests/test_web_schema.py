"""Schemathesis against /openapi.json: whatever it generates, no 5xx, nothing off-schema.

Schemathesis and Hypothesis are imported in the test, not at collection: every pytest
worker collects every module, and only the one that runs these two tests needs them.
Their pytest plugins are never loaded (pyproject: ``--disable-plugin-autoload``): these
tests call Hypothesis themselves and use neither, and a plugin that pytest finds by its
entry point has every module of its package assertion-rewritten on import (about 2.5 s
of CPU for these two, where PYTHONDONTWRITEBYTECODE keeps pytest from caching it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.web_server import running
from tests.web_site import Site, build_site

if TYPE_CHECKING:
    import schemathesis


def checks() -> list[Callable[..., Any]]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGGREGATOR_NOW", "2026-11-26T12:00:00+00:00")
        site: Site = build_site(tmp_path_factory.mktemp("site"))
        with running(site.config) as url:
            yield url


@pytest.mark.parametrize("mode_name", ["positive", "negative"])
def test_every_operation_holds_to_its_schema(base: str, mode_name: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    mode = GenerationMode(mode_name)
    run_checks = checks()
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    skipped: list[str] = []
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not operation.definition.raw.get("parameters"):
            continue  # nothing to get wrong in a request without parameters

        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base, checks=run_checks)

        try:
            check()
        except Unsatisfiable:
            # nothing in this operation can be sent wrong (a free-text path id)
            assert mode is GenerationMode.NEGATIVE, operation.label
            skipped.append(operation.label)
    assert len(skipped) <= 2, skipped
