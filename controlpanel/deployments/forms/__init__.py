"""One form per vendor, all built on ``base.VendorDeploymentForm``."""

from __future__ import annotations

from controlpanel.deployments.forms.base import VendorDeploymentForm
from controlpanel.deployments.forms.fluence import FluenceDeploymentForm
from controlpanel.deployments.forms.nosana import NosanaDeploymentForm
from controlpanel.deployments.forms.novita import NovitaDeploymentForm
from controlpanel.deployments.forms.replicate import ReplicateDeploymentForm
from controlpanel.deployments.forms.together import TogetherDeploymentForm

FORMS: dict[str, type[VendorDeploymentForm]] = {
    "nosana": NosanaDeploymentForm,
    "together": TogetherDeploymentForm,
    "replicate": ReplicateDeploymentForm,
    "fluence": FluenceDeploymentForm,
    "novita": NovitaDeploymentForm,
}


def form_class_for(vendor: str) -> type[VendorDeploymentForm]:
    return FORMS[vendor]
