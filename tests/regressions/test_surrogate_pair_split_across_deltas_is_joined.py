"""Bug: an emoji sent as ``\\ud83d`` and ``\\ude00`` in two deltas (Python servers write half
a character so) was refused by orjson, which broke the rest of the stream.
Fix: the JSON backend reads lone surrogates, and the two halves are joined into one
character in one delta.
"""

from __future__ import annotations

import json

import pytest

from tests.asgi_helpers import assemble, chunk, chunks_in
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


def python_event(payload: object) -> bytes:
    # json.dumps escapes non-ASCII, lone surrogates included.
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


async def test_the_halves_of_an_emoji_become_one_character() -> None:
    events = [
        python_event(chunk("<think>hm\ud83d")),
        python_event(chunk("\ude00</think>ok \ud83d")),
        python_event(chunk("\ude03")),
        b"data: [DONE]\n\n",
    ]
    recorder = await stream_through(events)
    recorder.body.decode("utf-8")
    assert assemble(recorder.body).reasoning == "hm😀"
    assert assemble(recorder.body).content == "ok 😃"
    for chunk_ in chunks_in(recorder.body):
        for choice in chunk_["choices"]:
            for text in choice["delta"].values():
                if isinstance(text, str):
                    text.encode("utf-8")
