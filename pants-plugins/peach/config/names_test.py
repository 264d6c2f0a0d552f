from __future__ import annotations

from peach.config.names import (
    canonical_name,
    exact_names,
    matches_any,
    redact_url,
    url_origin,
)


def test_canonical_names_and_patterns() -> None:
    assert canonical_name("Pipe_Algorithms.Lib") == "pipe-algorithms-lib"
    assert matches_any("Pipe_Consumer", ["pipe-*"]) and not matches_any("pipeline", ["pipe-*"])
    assert exact_names(["Pipe_Core", "pipe-*", "x?"]) == ("pipe-core",)


def test_redact() -> None:
    assert redact_url("https://user:secret@idx.example.invalid/simple") == "https://idx.example.invalid/simple"
    assert redact_url("https://idx.example.invalid/simple") == "https://idx.example.invalid/simple"
    assert redact_url("http://tok@127.0.0.1:8081/simple/") == "http://127.0.0.1:8081/simple/"
    assert url_origin("https://u:p@idx.example.invalid:8443/simple") == "https://idx.example.invalid:8443"
