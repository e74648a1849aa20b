"""pyregistry htpasswd checks: failures cost the same whoever the user is; passwords compare as Go and Apache do."""
import base64
import shutil
import statistics
import subprocess
import time

import bcrypt
import pytest

from pyregistry.auth import Htpasswd, padding_costs, parse_basic
from tests.conftest import require

SAMPLES = 5


def htpasswd_line(user, password, cost):
    """One entry written by Apache's `htpasswd -B` (password as bytes, passed as they are)."""
    require(shutil.which("htpasswd"), "htpasswd (apache2-utils) is not installed")
    out = subprocess.run([b"htpasswd", b"-nbB", b"-C", str(cost).encode(), user.encode(), password], check=True, capture_output=True, timeout=60)
    return out.stdout.strip() + b"\n"


def median_failure_seconds(check, users):
    """{user: median seconds of a failed check}, the users measured in turn so that load from elsewhere hits all."""
    times = {user: [] for user in users}
    for _ in range(SAMPLES):
        for user in users:
            started = time.perf_counter()
            assert check(user, "guess") is False
            times[user].append(time.perf_counter() - started)
    return {user: statistics.median(t) for user, t in times.items()}


def test_padding_costs_add_up_to_the_top_cost():
    for cost in range(4, 13):
        assert 2**cost + sum(2**c for c in padding_costs(cost, 12)) == 2**12
    assert padding_costs(None, 12) == [12]


def test_unknown_user_costs_as_much_as_a_wrong_password(tmp_path):
    """Users at cost 5 (listed first) and 12: an unknown name, a cost-5 user and the cost-12 user with a wrong
    password all take about as long as one cost-12 check."""
    path = tmp_path / "htpasswd"
    cheap = bcrypt.hashpw(b"cheap-pw", bcrypt.gensalt(rounds=5))
    dear = bcrypt.hashpw(b"dear-pw", bcrypt.gensalt(rounds=12))
    path.write_bytes(b"cheap:" + cheap + b"\ndear:" + dear + b"\n")
    ht = Htpasswd(str(path), "realm")
    assert ht.check("cheap", "cheap-pw") and ht.check("dear", "dear-pw")
    seconds = median_failure_seconds(ht.check, ["nobody", "dear", "cheap"])
    for user in ("dear", "cheap"):
        assert 0.5 < seconds["nobody"] / seconds[user] < 2, seconds


@pytest.mark.parametrize("length", [72, 73, 80, 200])
def test_long_passwords_compare_on_their_first_72_bytes(tmp_path, length):
    """`htpasswd -B` hashes the first 72 bytes of a longer password, as Go's bcrypt compares it; bcrypt 5 would raise."""
    password = bytes(range(33, 33 + 90))[:length] if length <= 90 else b"p" * length
    path = tmp_path / "htpasswd"
    path.write_bytes(htpasswd_line("long", password, 4))
    ht = Htpasswd(str(path), "realm")
    assert ht.check("long", password.decode())
    assert ht.check("long", password[:72].decode())
    assert not ht.check("long", password[:71].decode())


def test_passwords_are_bytes_not_text(tmp_path):
    """A Latin-1 password (not UTF-8) sent in Basic auth matches its htpasswd entry, as in Distribution."""
    path = tmp_path / "htpasswd"
    path.write_bytes(htpasswd_line("latin", b"caf\xe9", 4))
    ht = Htpasswd(str(path), "realm")
    creds = parse_basic("Basic " + base64.b64encode(b"latin:caf\xe9").decode())
    assert creds is not None and ht.check(*creds)
    assert not ht.check("latin", "café")
