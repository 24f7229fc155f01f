"""A GGUF model served in-process by xllamacpp on 127.0.0.1, speaking llama.cpp's
OpenAI-compatible HTTP API, so local and remote models share one client."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import MissingDependency, RagError

log = logging.getLogger(__name__)

_servers: dict[tuple[str, int], LocalServer] = {}
_lock = threading.Lock()


@dataclass
class LocalServer:
    model_path: Path
    address: str  # http://127.0.0.1:PORT
    handle: Any  # the xllamacpp.Server; the server stops when it is released
    api_key: str = ""  # random per server: other local users cannot use the loopback port

    @property
    def base_url(self) -> str:
        return self.address + "/v1"

    def metrics(self) -> dict[str, float]:
        """llama.cpp's counters (`prompt_tokens_total`: prompt tokens read, cached ones left out;
        `tokens_predicted_total`: tokens generated; `requests_processing`), from /metrics."""
        import urllib.request

        request = urllib.request.Request(self.address + "/metrics",
                                         headers={"Authorization": f"Bearer {self.api_key}"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            text = resp.read().decode("utf-8")
        out = {}
        for line in text.splitlines():
            if line.startswith("llamacpp:"):
                name, _, value = line.partition(" ")
                out[name.removeprefix("llamacpp:")] = float(value)
        return out

    def close(self) -> None:
        with _lock:
            for key, server in list(_servers.items()):
                if server is self:
                    del _servers[key]
        self.handle = None


@dataclass(frozen=True)
class Threads:
    generate: int  # threads that generate tokens, one at a time
    batch: int  # threads that read the prompt, many tokens at once


def default_threads(cores: int | None = None, load: float | None = None) -> Threads:
    """Threads for the local model when RAG_LLM_THREADS is not set, from the CPU cores and the
    1-minute load average when the server starts. llama.cpp's threads wait for each other at
    every step, so a thread that another process delays stalls them all. Measured on this 2-core
    machine with qwen-1.5b (docs/llm.md): idle, 2 threads read the prompt at 71 tokens/s and
    generate 13.6/s, 1 thread 36 and 8.2/s; busy (load 10), 2 threads generated 0.24 tokens/s
    and 1 thread 3.6/s, and read the prompt at 11 and 19/s. So: every core reads the prompt
    (at worst 2x slower on a busy machine) and every core generates on a machine that is idle
    at start (load below one core's worth); a busy one keeps a core free for generation."""
    cores = cores or os.cpu_count() or 1
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float(cores)
    generate = cores if load < 1.0 else max(1, cores - 1)
    return Threads(generate=generate, batch=cores)


def start(model_path: Path, n_ctx: int = 4096, threads: int | None = None, verbosity: int = -1) -> LocalServer:
    """Serve `model_path` on a free port of 127.0.0.1; one server per model and context size
    per process. Its prompt cache (llama.cpp's `cache_prompt`, on by default) keeps the shared
    beginning of the prompts, and /metrics is on for `LocalServer.metrics`."""
    try:
        import xllamacpp
    except ImportError:
        raise MissingDependency("xllamacpp", "local-llm") from None
    model_path = Path(model_path)
    if not model_path.is_file():
        raise RagError(f"the model file {model_path} is missing; install it with `rag models install NAME`")
    key = (str(model_path.resolve()), n_ctx)
    with _lock:
        if key in _servers:
            return _servers[key]
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.n_ctx = n_ctx
        chosen = Threads(threads, threads) if threads else default_threads()
        params.cpuparams.n_threads = chosen.generate
        params.cpuparams_batch.n_threads = chosen.batch
        params.endpoint_metrics = True
        params.port = 0  # a free port; the server reports the one it took
        params.hostnames = ["127.0.0.1"]
        api_key = secrets.token_urlsafe(24)
        params.api_keys = [api_key]
        params.verbosity = verbosity  # -1: llama.cpp's own log stays quiet
        log.info("starting xllamacpp on 127.0.0.1 with %s (%d threads generate, %d read the prompt)",
                 model_path.name, chosen.generate, chosen.batch)
        try:
            handle = xllamacpp.Server(params)
        except Exception as err:  # xllamacpp raises plain RuntimeErrors
            raise RagError(f"could not start the local model {model_path.name}: {err}; "
                           "reinstall it with `rag models install NAME`") from err
        server = LocalServer(model_path, str(handle.listening_address).rstrip("/"), handle, api_key)
        _servers[key] = server
        return server
