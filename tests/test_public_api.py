"""The public surface: what `from asgi_reasoning import ...` offers, and nothing more."""

from __future__ import annotations

import asgi_reasoning


def test_public_names_are_pinned() -> None:
    assert sorted(asgi_reasoning.__all__) == [
        "PRESETS",
        "ReasoningMiddleware",
        "ReasoningSplitter",
        "TagFormat",
        "__version__",
    ]


def test_every_public_name_is_defined_in_the_package() -> None:
    for name in asgi_reasoning.__all__:
        value = getattr(asgi_reasoning, name)
        if name != "__version__" and name != "PRESETS":
            assert value.__module__.startswith("asgi_reasoning.")


def test_presets_cannot_be_changed_at_run_time() -> None:
    presets: object = asgi_reasoning.PRESETS
    assert not hasattr(presets, "__setitem__")


def test_the_package_ships_type_information() -> None:
    from importlib.resources import files

    assert files("asgi_reasoning").joinpath("py.typed").is_file()
