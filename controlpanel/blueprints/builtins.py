"""Templates every team sees: common serving images, as vendor-neutral specs.

Each opens "Deploy anywhere" prefilled, so it runs on whichever offer the team picks.
Images, commands and ports are the projects' own documented ones:

- vLLM's OpenAI-compatible server: ``vllm/vllm-openai`` on Docker Hub, arguments after the
  image, port 8000 (docs.vllm.ai, "Using Docker": ``docker run ... -p 8000:8000
  vllm/vllm-openai:latest --model ...``; ``HF_TOKEN`` for gated models).
- Hugging Face text-generation-inference: ``ghcr.io/huggingface/text-generation-inference``,
  ``--model-id``, listening on port 80 in the container (TGI's README quick tour:
  ``-p 8080:80 ... --model-id $model``).
- Ollama: ``ollama/ollama`` on Docker Hub, its API on port 11434 (Ollama's Docker docs).
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.neutral import NeutralSpec


@dataclass(frozen=True)
class Builtin:
    slug: str
    name: str
    description: str
    spec: NeutralSpec


BUILTINS: tuple[Builtin, ...] = (
    Builtin(
        "vllm-openai",
        "vLLM OpenAI-compatible server",
        "vLLM serving Qwen2.5 7B Instruct with an OpenAI-compatible API on port 8000. Set HF_TOKEN for gated models.",
        NeutralSpec(
            name="vllm-openai",
            image="vllm/vllm-openai:latest",
            command="--model Qwen/Qwen2.5-7B-Instruct --port 8000",
            env=(("HF_TOKEN", ""),),
            port=8000,
            gpu_model="H100 80GB",
            gpu_count=1,
        ),
    ),
    Builtin(
        "tgi",
        "Hugging Face text-generation-inference",
        "TGI serving Qwen2.5 7B Instruct on port 80 (its default). Set HF_TOKEN for gated models.",
        NeutralSpec(
            name="tgi",
            image="ghcr.io/huggingface/text-generation-inference:latest",
            command="--model-id Qwen/Qwen2.5-7B-Instruct",
            env=(("HF_TOKEN", ""),),
            port=80,
            gpu_count=1,
        ),
    ),
    Builtin(
        "ollama",
        "Ollama",
        "Ollama's server with its API on port 11434; pull models through the API once it runs.",
        NeutralSpec(name="ollama", image="ollama/ollama:latest", port=11434, gpu_count=1),
    ),
)

BY_SLUG: dict[str, Builtin] = {b.slug: b for b in BUILTINS}
