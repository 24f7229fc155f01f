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
from rag.settings import prepare_libraries

log = logging.getLogger(__name__)

_servers: dict[tuple[str, int], LocalServer] = {}
_lock = threading.Lock()


@dataclass
class LocalServer:
    model_path: Path
    address: str  # http://127.0.0.1:PORT
    handle: Any  # the xllamacpp.Server; the server stops when it is released
    api_key: str = ""  # random per server: other local users cannot use the loopback port
    threads: int = 0  # what it runs on

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


def default_threads() -> int:
    """Every core, for reading the prompt and generating. With OpenMP's threads passive
    (rag.settings.LIBRARY_ENVIRONMENT) two threads were at least as fast as one on this 2-core machine whether it was
    idle, had one other busy process (prompt: same; generation 18-19 against 20-21 tokens/s) or
    several (load 6.5: first token 12 s against 24 s, generation 9.1 against 7.5 tokens/s);
    docs/llm.md, bench/llm_threads.py. With both cores taken by other processes (2.0 cores busy
    elsewhere, load 10.6; 2026-12-05, `bench/llm_threads.py --runs 4 --settings 1/1,2/2`) one
    thread and two were alike (prompt 10.2 / 10.0, generation 2.3 / 2.4 tokens/s): every core
    is never slower, so the count does not follow the load (nor the load average, which this
    process's own indexing raises)."""
    return os.cpu_count() or 1


def start(model_path: Path, n_ctx: int = 4096, threads: int | None = None, verbosity: int = -1) -> LocalServer:
    """Serve `model_path` on a free port of 127.0.0.1; one server per model and context size
    per process. Its prompt cache (llama.cpp's `cache_prompt`, on by default) keeps the shared
    beginning of the prompts, and /metrics is on for `LocalServer.metrics`."""
    prepare_libraries()  # passive OpenMP threads, before libgomp loads
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
        chosen = threads or default_threads()
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = chosen
        params.endpoint_metrics = True
        params.port = 0  # a free port; the server reports the one it took
        params.hostnames = ["127.0.0.1"]
        api_key = secrets.token_urlsafe(24)
        params.api_keys = [api_key]
        params.verbosity = verbosity  # -1: llama.cpp's own log stays quiet
        log.info("starting xllamacpp on 127.0.0.1 with %s on %d threads", model_path.name, chosen)
        try:
            handle = xllamacpp.Server(params)
        except Exception as err:  # xllamacpp raises plain RuntimeErrors
            raise RagError(f"could not start the local model {model_path.name}: {err}; "
                           "reinstall it with `rag models install NAME`") from err
        server = LocalServer(model_path, str(handle.listening_address).rstrip("/"), handle, api_key, chosen)
        _servers[key] = server
        return server
