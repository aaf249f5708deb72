"""Bug: a body orjson rejects (``NaN``, ``-Infinity``, ``1e400``, a lone surrogate) passed
through unread (raw ``<think>`` under strip), and integers above 2^64 became floats.
Fix: the stdlib parser reads what orjson refuses; rewritten bodies are strict JSON (``NaN``
as ``null``, infinities as the largest double) and big integers stay exact.
"""

from __future__ import annotations

import json

import pytest

from tests.regressions._exchange import body_through

pytestmark = pytest.mark.anyio

PYTHON_BODY = (
    b'{"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant",'
    b' "content": "<think>hm\\ud83d</think>ok"}, "logprobs": {"content": [{"token": "x",'
    b' "logprob": -Infinity}, {"token": "y", "logprob": NaN}]}, "finish_reason": "stop"}],'
    b' "usage": {"completion_tokens": 18446744073709551617, "big": 1e400}}'
)


@pytest.mark.parametrize("mode", ["separate", "strip"])
async def test_a_python_written_body_is_rewritten_to_strict_json(mode: str) -> None:
    recorder = await body_through(PYTHON_BODY, mode=mode)
    out = json.loads(recorder.body, parse_constant=lambda name: pytest.fail(name))
    assert out["choices"][0]["message"]["content"] == "ok"
    assert out["choices"][0]["logprobs"] in ({"content": []}, None) or out["choices"][0][
        "logprobs"
    ]["content"] == [
        {"token": "x", "logprob": -1.7976931348623157e308},
        {"token": "y", "logprob": None},
    ]
    assert json.loads(recorder.body)["usage"]["completion_tokens"] == 18446744073709551617
    assert b"NaN" not in recorder.body and b"Infinity" not in recorder.body
    if mode == "separate":
        assert json.loads(recorder.body)["choices"][0]["message"]["reasoning_content"] == "hm\ud83d"
