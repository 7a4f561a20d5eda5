"""Nosana's JSON in the panel's shapes (``providers.nosana.mapping``)."""

from __future__ import annotations

import pytest

from providers.nosana.mapping import normalise_gpu


@pytest.mark.parametrize(
    ("label", "gpu"),
    [
        ("NVIDIA GeForce RTX 4090", "RTX 4090"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA RTX A6000", "RTX A6000"),
        ("NVIDIA GeForce RTX 4060 Ti", "RTX 4060 Ti"),
        ("NVIDIA A40", "A40"),
    ],
)
def test_nosana_normalise_gpu(label, gpu):
    assert normalise_gpu(label) == gpu
