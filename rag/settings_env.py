"""The `RAG_*` environment variables of rag.settings.Settings: which variable sets which field,
and how a variable's text becomes the field's value (a typo in a name or a value is an error
that says what was meant). Only Settings.from_env calls this."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from typing import Any

from rag.errors import ConfigError

log = logging.getLogger("rag.settings")  # what it warns about is the Settings'

# how a boolean variable is written (RAG_READ_ONLY=1); anything else is an error, so that a typo
# ("ture") is not taken as "off"
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
# environment variable -> Settings field
ENV_VARS = {
    "RAG_CORPUS_DIR": "corpus_dir",
    "RAG_INDEX_DIR": "index_dir",
    "RAG_CHROMA_URL": "chroma_url",
    "RAG_COLLECTION": "collection",
    "RAG_EMBED_MODEL": "embed_model",
    "RAG_EMBED_BACKEND": "embed_backend",
    "RAG_ANSWERER": "answerer",
    "RAG_LLM_BASE_URL": "llm_base_url",
    "RAG_LLM_MODEL": "llm_model",
    "RAG_LLM_API_KEY": "llm_api_key",
    "RAG_MODELS_DIR": "models_dir",
    "RAG_RERANKER": "reranker",
    "RAG_K": "k",
    "RAG_CHUNK_SIZE": "chunk_size",
    "RAG_CHUNK_OVERLAP": "chunk_overlap",
    "RAG_DENSE_WEIGHT": "dense_weight",
    "RAG_RRF_K": "rrf_k",
    "RAG_ABSTAIN_THRESHOLD": "abstain_threshold",
    "RAG_MAX_UPLOAD_MB": "max_upload_mb",
    "RAG_AUTH": "auth",
    "RAG_AUTH_FILE": "auth_file",
    "RAG_READ_ONLY": "read_only",
    "RAG_ANSWERERS": "answerers",
    "RAG_MAX_QUESTION_CHARS": "max_question_chars",
    "RAG_LLM_CONTEXT": "llm_context",
    "RAG_LLM_CONDENSE": "llm_condense",
    "RAG_LLM_MAX_TOKENS": "llm_max_tokens",
    "RAG_LLM_THREADS": "llm_threads",
    "RAG_KB_DESCRIPTION": "kb_description",
}

LOGIN_VARS = ("RAG_AUTH", "RAG_AUTH_FILE")  # set but empty: an error, never "no login"


def values_from_env(env: Mapping[str, str], types: Mapping[str, str]) -> dict[str, Any]:
    """field -> value for each RAG_* variable set in `env` (`types`: field -> its type's name)."""
    check_names(env)
    values: dict[str, Any] = {}
    for var, name in ENV_VARS.items():
        raw = env.get(var)
        if raw == "" and var in LOGIN_VARS:  # an empty login must not mean no login
            raise ConfigError(f"{var} is set but empty: give it USER:PASSWORD (or a file), or unset it")
        if raw is None or raw == "":
            continue
        values[name] = convert(var, raw, types[name])
    return values


def check_names(env: Mapping[str, str]) -> None:
    """A RAG_* variable this package does not read and that is close to one it does is a typo
    (RAG_READONLY=1 would otherwise leave the server writable): an error that names the variable
    it probably meant. One close to none may belong to another tool: a warning."""
    for var in sorted(v for v in env if v.startswith("RAG_") and v not in ENV_VARS):
        close = difflib.get_close_matches(var, ENV_VARS, n=1)
        if close:
            raise ConfigError(f"unknown setting {var} in the environment: did you mean {close[0]}? (or unset it)")
        log.warning("ignoring %s: not a setting of this package (the settings are %s)", var, ", ".join(sorted(ENV_VARS)))


def convert(var: str, raw: str, type_name: str) -> Any:
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "bool":
            word = raw.strip().lower()
            if word not in TRUE_WORDS + FALSE_WORDS:
                raise ConfigError(f"{var}={raw!r} is not a yes or no: write {'/'.join(TRUE_WORDS)} "
                                  f"or {'/'.join(FALSE_WORDS)}")
            return word in TRUE_WORDS
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not a valid {type_name}") from None
    return raw
