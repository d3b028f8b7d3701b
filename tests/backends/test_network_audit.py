"""Network safety audit: IPv6 addresses that lead to an inner IPv4 address are refused.

An IPv6 address can carry an IPv4 one: NAT64's ``64:ff9b::a.b.c.d`` is translated to
``a.b.c.d`` by the network's translator (private addresses of the network included, where it
lets them through), 6to4's ``2002:AABB:CCDD::`` tunnels to ``A.B.C.D``; the deprecated
IPv4-compatible ``::a.b.c.d`` and the rest of ``::/8`` are reserved, ``fec0::/10`` is
site-local. Python's ``is_global`` calls them all global, so a result URL (or a redirect)
whose name resolved to one of them was downloaded. The docs promise that reserved addresses
and the inner ones are refused before anything connects.

Nothing here asks DNS or opens a socket: names resolve through a stub table, and the client's
transport is an ``httpx.MockTransport`` that records what would have been sent.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from storyboard.backends.runware import RetryPolicy, RunwareClient, RunwareDownloadError
from storyboard.backends.runware.download import Destinations
from tests.backends.runware.fakes import (
    API_KEY,
    BASE_URL,
    MP4_HEAD,
    FakeClock,
    ScriptedRunware,
    StubResolver,
    original_url,
)

pytestmark = pytest.mark.anyio

URL = "https://vm.runware.test/video/v-1.mp4"
VIDEO = MP4_HEAD + bytes(range(256)) * 8

#: Addresses Python's ``is_global`` calls global that lead to this machine or an inner network.
CARRIERS = [
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (the cloud metadata service)
    "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::c0a8:101",  # NAT64 of 192.168.1.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "::7f00:1",  # IPv4-compatible 127.0.0.1 (reserved, ::/8)
    "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
    "::ffff:0:a00:1",  # IPv4-translated 10.0.0.1 (reserved, ::/8)
    "64:ff9b:1::a00:1",  # NAT64 local-use prefix (not globally reachable, ::/8)
    "fec0::1",  # site-local
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_client(runware: ScriptedRunware, resolver: StubResolver) -> RunwareClient:
    return RunwareClient(
        API_KEY,
        base_url=BASE_URL,
        transport=httpx.MockTransport(runware.handler),
        sleep=FakeClock().sleep,
        rng=lambda: 0.0,
        retry=RetryPolicy(),
        resolver=resolver,
    )


@pytest.mark.parametrize("address", CARRIERS)
async def test_an_address_that_carries_an_inner_one_is_refused_before_connecting(
    tmp_path: Path, address: str
) -> None:
    runware = ScriptedRunware()
    runware.downloads[URL] = httpx.Response(200, content=VIDEO)
    resolver = StubResolver({"vm.runware.test": [address]})
    async with make_client(runware, resolver) as client:
        with pytest.raises(RunwareDownloadError, match="refusing") as caught:
            await client.download(URL, tmp_path / "x.mp4")
    assert not caught.value.retryable
    assert runware.calls == [] and list(tmp_path.iterdir()) == []
    assert resolver.asked == ["vm.runware.test"]


async def test_a_redirect_to_a_nat64_form_of_the_metadata_service_is_refused(
    tmp_path: Path,
) -> None:
    cdn = "https://cdn.runware.test/v.mp4"
    runware = ScriptedRunware()
    runware.downloads[URL] = httpx.Response(302, headers={"location": cdn})
    runware.downloads[cdn] = httpx.Response(200, content=VIDEO)
    resolver = StubResolver({"cdn.runware.test": ["64:ff9b::a9fe:a9fe"]})
    async with make_client(runware, resolver) as client:
        with pytest.raises(RunwareDownloadError, match=r"169\.254\.169\.254"):
            await client.download(URL, tmp_path / "x.mp4")
    assert [original_url(c.request) for c in runware.calls] == [URL]  # cdn never asked


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "::7f00:1", "2002:7f00:1::1"])
async def test_with_an_emulator_ipv6_carriers_of_loopback_stay_refused(address: str) -> None:
    """The emulator's exception is for loopback itself; a carrier of 127.0.0.1 is not it."""
    resolver = StubResolver({"e.test": [address]})
    rules = Destinations.for_base_url("http://127.0.0.1:8787/v1", resolver)
    with pytest.raises(RunwareDownloadError, match="refusing"):
        await rules.pin("https://e.test:8787/video/x.mp4")


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34 (DNS64 on an IPv6-only network)
        "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
        "2606:4700::6810:84e5",  # plain public IPv6
    ],
)
async def test_public_ipv6_and_carriers_of_public_ipv4_stay_allowed(address: str) -> None:
    rules = Destinations(StubResolver({"vm.runware.test": [address]}))
    pinned = await rules.pin(URL)
    assert pinned.url.host == address and pinned.server_name == "vm.runware.test"
