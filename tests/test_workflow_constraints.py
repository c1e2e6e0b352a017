"""A workflow's version constraints are those of its steps together (SPEC SUB1, U5)."""

from __future__ import annotations

import pytest

import gallery_widgets as gw
from conftest import write_algorithm


def _workflow(tmp_path):
    prep = gw.Algorithm.from_dir(write_algorithm(tmp_path / "prep", "prep", python=">=3.8", requirements=["pyyaml"]))
    train = gw.Algorithm.from_dir(
        write_algorithm(tmp_path / "train", "train", python="<4", requirements=["pyyaml", "packaging>=20"])
    )
    first = gw.Step("prep", prep, params={"epochs": 1}, inputs={"data": tmp_path})
    second = gw.Step("train", train, params={"epochs": 1}, inputs={"data": first.output("model")})
    return gw.Workflow("pipeline", steps=[first, second])


def test_sub1_workflow_constraints_combine_its_steps(alice, bob, tmp_path):
    asset = alice.publish(_workflow(tmp_path), title="Pipeline", visibility="public", agree=True)
    constraints = bob.constraints(asset.content_id)
    assert set(constraints.python.split(",")) == {">=3.8", "<4"}
    assert constraints.requirements == ("pyyaml", "packaging>=20")
    with pytest.raises(gw.AgreementRequired) as refused:
        bob.subscribe(asset.content_id, accept_agreements=True)
    assert "version-constraints" in refused.value.missing
    assert "packaging>=20" in str(refused.value)
    assert bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True).status == "active"
