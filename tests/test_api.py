import qa_bot


def test_public_api_is_pinned():
    assert qa_bot.__all__ == [
        "Answer",
        "Citation",
        "Passage",
        "QABot",
        "SearchFilters",
        "Settings",
        "ask",
        "get_settings",
    ]


def test_settings_come_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_BOT_K", "7")
    monkeypatch.setenv("QA_BOT_STORE_DIR", str(tmp_path))
    s = qa_bot.get_settings()
    assert (s.k, s.store_dir) == (7, tmp_path)


def test_openai_provider_is_chosen_by_base_url():
    from langchain_openai import ChatOpenAI

    from qa_bot.models.chat import load_chat_model

    llm = load_chat_model(qa_bot.get_settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="qwen"))
    assert isinstance(llm, ChatOpenAI)
    assert (llm.model_name, str(llm.openai_api_base)) == ("qwen", "http://127.0.0.1:9/v1")


def test_an_unreachable_llm_server_does_not_turn_the_refusal_probe_off():
    from langchain_core.messages import HumanMessage

    from qa_bot.models.chat import load_chat_model
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    llm = load_chat_model(qa_bot.get_settings(llm_base_url=url, llm_timeout=2))
    assert llm._first_token_p([HumanMessage(content="Siapa?")], "NOT_FOUND") is None
    assert llm._probe_works is None  # asked again next time, when the server may be back


def test_missing_gguf_path_says_what_to_fix(tmp_path):
    import pytest

    from qa_bot.models.chat import load_chat_model
    from qa_bot.models.common import ModelError

    with pytest.raises(ModelError, match="fix QA_BOT_LLM_MODEL_PATH"):
        load_chat_model(qa_bot.get_settings(llm_model_path=tmp_path / "none.gguf"))
