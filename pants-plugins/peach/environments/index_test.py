"""The messages of a failed latest-release lookup, from what uv 0.13.9 really printed."""
from __future__ import annotations

import pytest

from peach.environments.index import PrivateIndexSetup, lookup_failure

URL = "http://127.0.0.1:8765/simple"
UNSATISFIABLE = ("error: No solution found when resolving dependencies\n  cause: Because pipe-algorithms-lib was not "
                 "found in the package registry and you require pipe-algorithms-lib, we can conclude that your "
                 "requirements are unsatisfiable.\n\n")
UV_SAID = {
    "401": UNSATISFIABLE + f"hint: An index URL ({URL}) could not be queried due to a lack of valid authentication "
                           "credentials (401 Unauthorized)",
    "403": UNSATISFIABLE + f"hint: An index ({URL}) returned a 403 Forbidden error. Check that the index URL is "
                           "correct and the credentials are valid.",
    "500": f"error: Request failed after 3 retries in 7.1s\n  cause: Failed to fetch: {URL}/pipe-algorithms-lib/\n"
           f"  cause: HTTP status server error (500 Internal Server Error) for url ({URL}/pipe-algorithms-lib/)",
    "malformed": f"error: Received some unexpected JSON from `{URL}/pipe-algorithms-lib/`\n"
                 "  cause: key must be a string at line 1 column 2",
    "no versions": "error: No solution found when resolving dependencies\n  cause: Because there are no versions of "
                   "pipe-algorithms-lib and you require pipe-algorithms-lib, we can conclude that your requirements "
                   "are unsatisfiable.",
    "slow": f"error: Request failed after 3 retries in 18.1s\n  cause: Failed to fetch: {URL}/pipe-algorithms-lib/\n"
            f"  cause: error sending request for url ({URL}/pipe-algorithms-lib/)\n  cause: operation timed out",
    "down": f"error: Request failed after 3 retries in 5.0s\n  cause: Failed to fetch: {URL}/pipe-algorithms-lib/\n"
            f"  cause: error sending request for url ({URL}/pipe-algorithms-lib/)\n  cause: client error (Connect)\n"
            "  cause: tcp connect error\n  cause: Connection refused (os error 111)",
    "404": UNSATISFIABLE,
}
SETUP = PrivateIndexSetup(URL, "private", None, credentials_given=True)


@pytest.mark.parametrize("case, expected", [
    ("401", f"the private index {URL} answered HTTP 401 Unauthorized: the credentials are missing or wrong (the "
            "given ones were rejected); set UV_INDEX_PRIVATE_USERNAME and UV_INDEX_PRIVATE_PASSWORD in the environment"),
    ("403", f"the private index {URL} answered HTTP 403 Forbidden: the credentials lack access to it, or are wrong; "
            "check UV_INDEX_PRIVATE_USERNAME and UV_INDEX_PRIVATE_PASSWORD"),
    ("500", f"the private index {URL} answered HTTP 500: check that the index is healthy, or try again later"),
    ("malformed", f"the private index {URL} sent a malformed page for pipe-algorithms-lib"),
    ("no versions", f"the private index {URL} has no final release of pipe-algorithms-lib"),
    ("slow", f"the private index {URL} timed out (after 3 s, `[peach].index_timeout`)"),
    ("down", f"cannot reach the private index {URL}: check the index URL"),
    ("404", f"the private index {URL} has no package pipe-algorithms-lib"),
])
def test_lookup_failures_say_what_and_how_to_fix(case: str, expected: str) -> None:
    message = lookup_failure("pipe-algorithms-lib", SETUP, UV_SAID[case], 3)
    assert message.startswith("cannot pin pipe-algorithms-lib to its latest release: " + expected)
    assert "uv said:\n" in message


def test_missing_credentials_are_named() -> None:
    setup = PrivateIndexSetup(URL, "corp.v2", None, credentials_given=False)
    message = lookup_failure("pipe-algorithms-lib", setup, UV_SAID["401"], 3)
    assert "(none were given); set UV_INDEX_CORP_V2_USERNAME and UV_INDEX_CORP_V2_PASSWORD" in message


def test_the_public_index_goes_into_pyproject_without_credentials() -> None:
    from peach.config.errors import PackagingError
    from peach.environments.index import public_index_url

    assert public_index_url("") == ""
    assert public_index_url(" https://mirror.example.invalid/simple/ ") == "https://mirror.example.invalid/simple"
    with pytest.raises(PackagingError) as e:
        public_index_url("https://ci:s3cret@mirror.example.invalid/simple")
    assert "s3cret" not in str(e.value) and "ci:" not in str(e.value)
    assert str(e.value).startswith("[peach].public_index = `https://mirror.example.invalid/simple` carries credentials")
    assert "UV_INDEX_PUBLIC_USERNAME and UV_INDEX_PUBLIC_PASSWORD" in str(e.value)
    with pytest.raises(PackagingError, match="is not an http"):
        public_index_url("mirror.example.invalid/simple")
