"""What reaches uv processes of the caller's credentials and proxy settings."""
from __future__ import annotations

from pathlib import PurePath

import pytest
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.option.global_options import NamedCachesDirOption
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

from peach.config.errors import PackagingError
from peach.environments.lock_test import peach
from peach.uv.credentials import UvCredentials, index_credentials, proxy_env, uv_credentials

PRIVATE = ("private index", "private", "https://pypi.example.invalid/simple")
PUBLIC = ("public index", "public", "https://mirror.example.invalid:8443/simple")


def test_proxies_without_credentials_pass() -> None:
    caller = {"HTTPS_PROXY": "http://proxy.example.invalid:3128", "no_proxy": "localhost,.corp",
              "ALL_PROXY": "socks5://proxy.example.invalid:1080", "HTTP_PROXY": "", "PATH": "/bin"}
    assert proxy_env(caller) == {"HTTPS_PROXY": "http://proxy.example.invalid:3128", "no_proxy": "localhost,.corp",
                                 "ALL_PROXY": "socks5://proxy.example.invalid:1080"}


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"])
@pytest.mark.parametrize("url", ["http://user:pr0xy-pw@proxy.example.invalid:3128", "http://pr0xy-pw@proxy.example.invalid"])
def test_a_proxy_with_credentials_is_refused_without_showing_them(name: str, url: str) -> None:
    with pytest.raises(PackagingError) as e:
        proxy_env({name: url})
    message = str(e.value)
    assert "pr0xy-pw" not in message and "user" not in message.split("carries")[0]
    assert message.startswith(f"{name} = `http://proxy.example.invalid")
    assert "peach does not pass a proxy password to uv" in message and f"Set {name} without them" in message


def test_both_indexes_get_netrc_entries_from_their_variables() -> None:
    caller = {"UV_INDEX_PRIVATE_USERNAME": "ci", "UV_INDEX_PRIVATE_PASSWORD": "priv-pw",
              "UV_INDEX_PUBLIC_PASSWORD": "pub-pw"}
    assert index_credentials((PRIVATE, PUBLIC), caller) == (
        ("private index", "https://pypi.example.invalid", "machine pypi.example.invalid\nlogin ci\npassword priv-pw\n"),
        ("public index", "https://mirror.example.invalid:8443",
         "machine mirror.example.invalid\nlogin token\npassword pub-pw\n"),
    )
    assert index_credentials((PRIVATE, PUBLIC), {"UV_INDEX_PUBLIC_PASSWORD": "pub-pw"})[0][0] == "public index"
    # A directory of wheels, or no public index: nothing to authenticate.
    assert index_credentials((("private index", "private", "3rdparty/wheels"), ("public index", "public", "")),
                             caller) == ()


def test_a_password_netrc_cannot_carry_is_refused_naming_the_index() -> None:
    with pytest.raises(PackagingError, match="the public index password contains whitespace"):
        index_credentials((PUBLIC,), {"UV_INDEX_PUBLIC_PASSWORD": "a b"})


def test_two_indexes_on_one_host_need_the_same_credentials() -> None:
    private = ("private index", "private", "http://127.0.0.1:8001/simple")
    public = ("public index", "public", "http://127.0.0.1:8002/simple")
    same = {"UV_INDEX_PRIVATE_USERNAME": "ci", "UV_INDEX_PRIVATE_PASSWORD": "pw",
            "UV_INDEX_PUBLIC_USERNAME": "ci", "UV_INDEX_PUBLIC_PASSWORD": "pw"}
    assert [what for what, _, _ in index_credentials((private, public), same)] == ["private index"]
    with pytest.raises(PackagingError) as e:
        index_credentials((private, public), {**same, "UV_INDEX_PUBLIC_PASSWORD": "other-pw"})
    assert "both on 127.0.0.1, with different credentials" in str(e.value)
    assert "other-pw" not in str(e.value)


def uv_credentials_of(caller: dict, tmp_path) -> UvCredentials:
    return run_rule_with_mocks(
        uv_credentials,
        rule_args=[peach(private_index=PRIVATE[2], public_index=PUBLIC[2], private_index_name="private"),
                   NamedCachesDirOption(PurePath(tmp_path))],
        mock_gets=[MockGet(EnvironmentVars, (EnvironmentVarsRequest,),
                           lambda r: EnvironmentVars({k: caller[k] for k in r.requested if k in caller}))],
    )


def test_uv_processes_get_the_netrc_path_and_the_proxies_never_a_secret(tmp_path) -> None:
    caller = {"UV_INDEX_PRIVATE_USERNAME": "ci", "UV_INDEX_PRIVATE_PASSWORD": "priv-pw",
              "UV_INDEX_PUBLIC_PASSWORD": "pub-pw", "HTTPS_PROXY": "http://proxy.example.invalid:3128",
              "NO_PROXY": "localhost"}
    credentials = uv_credentials_of(caller, tmp_path)
    # The proxies without secrets reach uv; the passwords only through the netrc file.
    env = credentials.env_at("{chroot}/.peach/secrets")
    assert env == {"HTTPS_PROXY": "http://proxy.example.invalid:3128", "NO_PROXY": "localhost",
                   "NETRC": f"{{chroot}}/.peach/secrets/{credentials.netrc}"}
    assert credentials.given and credentials.append_only_caches == {"peach_credentials": ".peach/secrets"}
    assert not any("pw" in value for value in (*env.values(), credentials.netrc))
    netrc = tmp_path / "peach_credentials" / credentials.netrc
    assert netrc.read_text() == ("machine pypi.example.invalid\nlogin ci\npassword priv-pw\n"
                                 "machine mirror.example.invalid\nlogin token\npassword pub-pw\n")
    assert oct(netrc.stat().st_mode & 0o777) == "0o600"
    assert oct(netrc.parent.stat().st_mode & 0o777) == "0o700"
    # The file's name depends on the indexes, not on the credentials: a rotated token keeps it.
    assert uv_credentials_of({**caller, "UV_INDEX_PRIVATE_PASSWORD": "rotated-pw"}, tmp_path).netrc == credentials.netrc
    assert "rotated-pw" in netrc.read_text()


def test_without_credentials_uv_gets_the_proxies_and_mounts_nothing(tmp_path) -> None:
    credentials = uv_credentials_of({"HTTPS_PROXY": "http://proxy.example.invalid:3128",
                                     "UV_INDEX_PRIVATE_USERNAME": "ci"}, tmp_path)
    assert credentials.env_at("/x") == {"HTTPS_PROXY": "http://proxy.example.invalid:3128"}
    assert (credentials.netrc, credentials.given, credentials.append_only_caches) == ("", False, {})
    assert not (tmp_path / "peach_credentials").exists()
    # Only the public index's password: the private index is not authenticated.
    public_only = uv_credentials_of({"UV_INDEX_PUBLIC_PASSWORD": "pub-pw"}, tmp_path)
    assert public_only.netrc and not public_only.given
