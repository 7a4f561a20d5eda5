"""GPU names as the five vendors write them (their catalogs, fixtures and sandboxes), read
as one model each."""

from __future__ import annotations

import pytest

from providers.gpus import GpuModel, gpu_display_name, normalise_gpu


@pytest.mark.parametrize(
    ("name", "memory", "expected"),
    [
        # Together: GPU_LABELS and /hardware ids
        ("NVIDIA H100 80GB", None, "H100 80GB"),
        ("NVIDIA H100 40GB (MIG slice)", None, "H100 40GB MIG"),
        ("NVIDIA B200 192GB", None, "B200 192GB"),
        ("1x_nvidia_h100_80gb_sxm", None, "H100 80GB"),
        ("2x_nvidia_h100_80gb_sxm", None, "H100 80GB"),
        ("1x_nvidia_l40s_48gb_pcie", None, "L40S 48GB"),
        ("1x_nvidia_b200_192gb_sxm", None, "B200 192GB"),
        # Nosana: a market's gpu_types (with its lowest_vram) and its name
        ("NVIDIA GeForce RTX 3060", 12, "RTX 3060 12GB"),
        ("NVIDIA GeForce RTX 4090", 24, "RTX 4090 24GB"),
        ("NVIDIA H100 80GB HBM3", 80, "H100 80GB"),
        ("NVIDIA 3060", None, "RTX 3060"),
        ("NVIDIA 4090", None, "RTX 4090 24GB"),
        ("NVIDIA H100", None, "H100 80GB"),
        # Fluence: gpu_model.model, memory from gpu_model.vram
        ("h200", 141, "H200 141GB"),
        ("a100", 80, "A100 80GB"),
        ("a100", None, "A100"),
        ("rtx4090", 24, "RTX 4090 24GB"),
        ("h100", 80, "H100 80GB"),
        ("rtx-a6000", 48, "RTX A6000 48GB"),
        ("rtx6000ada", None, "RTX 6000 Ada 48GB"),
        # Novita: product names
        ("A100 SXM 80GB", None, "A100 80GB"),
        ("H100 SXM 80GB", None, "H100 80GB"),
        ("RTX 4090 24GB", None, "RTX 4090 24GB"),
        ("L40S 48GB", None, "L40S 48GB"),
        ("RTX 3090 24GB", None, "RTX 3090 24GB"),
        ("H200 141GB", None, "H200 141GB"),
        # Replicate: hardware names
        ("Nvidia T4 GPU", 16, "T4 16GB"),
        ("2x Nvidia A100 (80GB) GPU", None, "A100 80GB"),
        ("Nvidia A40 (Large) GPU", 48, "A40 48GB"),
        ("Nvidia L40S GPU", None, "L40S 48GB"),
        ("Nvidia B200 GPU", None, "B200 192GB"),
        ("Nvidia H100 GPU", 80, "H100 80GB"),
        # The adapters' own normalised names
        ("H100", None, "H100 80GB"),
        ("RTX 3060", 12, "RTX 3060 12GB"),
        ("RTX 4090 Ti", None, "RTX 4090 Ti"),
        ("A10G", None, "A10G 24GB"),
        ("A10", 24, "A10 24GB"),
    ],
)
def test_every_vendors_gpu_names_read_as_one_model(name, memory, expected):
    assert normalise_gpu(name, memory).display_name == expected


def test_the_example_of_the_issue():
    assert normalise_gpu("NVIDIA H100 80GB HBM3") == GpuModel(family="H100", memory_gb=80)


def test_a_size_in_the_name_wins_over_the_one_reported_apart():
    assert normalise_gpu("NVIDIA H100 40GB (MIG slice)", 80) == GpuModel("H100", 40, "MIG")


@pytest.mark.parametrize("name", ["CPU", "cpu", "", None, "mystery accelerator"])
def test_names_of_no_gpu(name):
    assert normalise_gpu(name) is None
    assert gpu_display_name(name) == " ".join(str(name or "").split())
