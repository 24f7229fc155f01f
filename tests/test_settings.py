"""Settings: every yes/no and every choice is checked when the settings load, with a message
that names the variable and what it takes; and only rag.settings touches the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.cli import build_parser
from rag.cli.commands import web_settings
from rag.cli.output import settings_from
from rag.errors import ConfigError
from rag.settings import Settings

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("word", ["ture", "2", "maybe", "enabled"])
def test_a_misspelt_yes_or_no_is_an_error(word: str) -> None:
    with pytest.raises(ConfigError, match=f"RAG_READ_ONLY={word!r} is not a yes or no: write 1/true/yes/on"):
        Settings.from_env(env={"RAG_READ_ONLY": word})


@pytest.mark.parametrize(("word", "value"), [("1", True), ("TRUE", True), (" yes ", True), ("on", True),
                                             ("0", False), ("false", False), ("No", False), ("off", False)])
def test_yes_and_no_in_their_usual_spellings(word: str, value: bool) -> None:
    assert Settings.from_env(env={"RAG_READ_ONLY": word}).read_only is value


@pytest.mark.parametrize(("env", "message"), [
    ({"RAG_LLM_CONTEXT": "sentences"}, r"unknown llm context 'sentences' \(RAG_LLM_CONTEXT\): choose evidence or passages"),
    ({"RAG_EMBED_BACKEND": "tensorflow"}, r"RAG_EMBED_BACKEND.*torch or onnx"),
    ({"RAG_ANSWERER": "generative"}, r"unknown answerer 'generative'"),
    ({"RAG_ANSWERERS": "extractive,magic"}, r"--answerers takes"),
    ({"RAG_LLM_MAX_TOKENS": "0"}, r"RAG_LLM_MAX_TOKENS must be at least 1"),
    ({"RAG_LLM_THREADS": "-2"}, r"RAG_LLM_THREADS must be 0"),
    ({"RAG_ABSTAIN_THRESHOLD": "38"}, r"RAG_ABSTAIN_THRESHOLD\) must be between 0 and 1, not 38"),
    ({"RAG_MAX_UPLOAD_MB": "nan"}, r"RAG_MAX_UPLOAD_MB\) must be a positive number, not nan"),
    ({"RAG_CHROMA_URL": "localhost:8000"}, r"RAG_CHROMA_URL must look like http://host:port"),
    ({"RAG_LLM_BASE_URL": "127.0.0.1:8080/v1"}, r"RAG_LLM_BASE_URL must look like http://host:port"),
    ({"RAG_READONLY": "1"}, r"unknown setting RAG_READONLY in the environment: did you mean RAG_READ_ONLY\?"),
])
def test_every_choice_is_checked_when_the_settings_load(env: dict[str, str], message: str) -> None:
    # the llm context used to be checked only when the llm answerer was built
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env=env)


def test_read_only_from_code_must_be_a_bool() -> None:
    with pytest.raises(ConfigError, match="read_only must be True or False"):
        Settings(read_only="no")  # type: ignore[arg-type]


def test_rag_serve_takes_the_default_answerer() -> None:
    """README: `rag serve --answerer NAME` chooses the chat's default answerer; it used to be
    taken by argparse as an abbreviation of --answerers (the offered list)."""
    args = build_parser().parse_args(["serve", "--answerer", "extractive"])
    settings = web_settings(settings_from(args))
    assert settings.answerer == "extractive"
    both = build_parser().parse_args(["serve", "--answerer", "llm", "--answerers", "extractive,llm"])
    assert (settings_from(both).answerer, settings_from(both).answerers) == ("llm", ("extractive", "llm"))


def test_only_settings_touches_the_environment() -> None:
    """Nothing but rag/settings.py reads or writes os.environ (rag/models.py reads where the
    user's cache folder is, XDG_CACHE_HOME, and nothing else)."""
    touching = {
        str(path.relative_to(REPO)): re.findall(r"os\.environ\S*|os\.putenv|os\.getenv\S*", path.read_text())
        for path in sorted([*REPO.glob("rag/**/*.py"), *REPO.glob("ui/**/*.py")])
    }
    touching = {path: found for path, found in touching.items() if found}
    assert touching.pop("rag/settings.py")
    assert touching == {"rag/models.py": ['os.environ.get("XDG_CACHE_HOME",']}


def test_library_environment_is_set_unless_the_user_set_it() -> None:
    from rag.settings import LIBRARY_ENVIRONMENT, prepare_libraries

    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    prepare_libraries(env)
    assert env == {**LIBRARY_ENVIRONMENT, "OMP_WAIT_POLICY": "ACTIVE"}
    assert LIBRARY_ENVIRONMENT == {"TOKENIZERS_PARALLELISM": "false", "OMP_WAIT_POLICY": "PASSIVE"}


def test_a_rag_variable_close_to_no_setting_is_only_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """RAG_* names may belong to another tool: one that looks like none of ours loads, with a warning."""
    with caplog.at_level("WARNING", logger="rag.settings"):
        settings = Settings.from_env(env={"RAG_PIPELINE_HOME": "/opt/x", "RAG_K": "3"})
    assert settings.k == 3
    assert "ignoring RAG_PIPELINE_HOME" in caplog.text
