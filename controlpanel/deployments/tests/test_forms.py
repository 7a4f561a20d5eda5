from __future__ import annotations

import pytest

from controlpanel.deployments.forms import form_class_for
from controlpanel.deployments.forms.base import normalise_path
from providers.registry import SLUGS


def test_normalise_path():
    assert normalise_path("body.environment_variables[2].name") == "environment_variables.2.name"


# --- clone to another vendor: every pair of forms -----------------------------------------------------


def _clone_pairs():
    from controlpanel.vendors import demo_specs

    return [(src, dst) for src in sorted(demo_specs()) for dst in SLUGS if src != dst]


@pytest.mark.parametrize(("source", "target"), _clone_pairs())
def test_clone_carries_name_image_and_env_values_between_every_pair_of_vendors(source, target):
    from controlpanel.vendors import demo_specs

    common = form_class_for(source).common_from_spec(demo_specs()[source])
    initial, rows = form_class_for(target).initial_from_common(common)
    assert initial["name"] == demo_specs()[source]["name"]
    image_field = next(
        (f for f in form_class_for(target).IMAGE_FIELDS if f in form_class_for(target).main_form.base_fields), None
    )
    if image_field and common["image"]:
        assert initial[image_field] == common["image"]
    if "env" in form_class_for(target).formsets and common["env"]:
        key = "name" if "name" in form_class_for(target).formsets["env"][0].base_fields else "key"
        assert [(row[key], row["value"]) for row in rows["env"]] == common["env"]
    # The target form takes what it was given: one it renders without errors.
    form = form_class_for(target)(initial=initial, row_initial=rows)
    assert form.main["name"].value() == initial["name"]
