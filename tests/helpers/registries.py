"""Registry processes for tests: Distribution (Debian's docker-registry) and the bundled pyregistry.

Both read the same Distribution config.yml, so one class starts either on a free loopback port with its
own storage directory.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def htpasswd_auth(directory, user, password):
    """Writes DIRECTORY/htpasswd holding `user` (bcrypt, by `htpasswd -Bbn`); returns the registry config's `auth`
    section naming it (realm "r").  CalledProcessError when htpasswd fails."""
    line = subprocess.run(["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True).stdout.strip()
    path = os.path.join(str(directory), "htpasswd")
    with open(path, "w") as fh:
        fh.write(line + "\n")
    return {"htpasswd": {"realm": "r", "path": path}}


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=30, cafile=None, ok=(200, 401)):
    """Poll `url` until it answers with a status in `ok`; raise TimeoutError otherwise."""
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https") else None
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
                if resp.status in ok:
                    return resp.status
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return exc.code
            last = exc
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {ok} within {timeout}s: {last}")


class RegistryProcess:
    """One registry server process ('distribution' or 'pyregistry') with its config and storage."""

    def __init__(self, kind, workdir, config=None, env=None, port=None, *, python=sys.executable):
        self.kind = kind
        self.python = python
        self.workdir = workdir
        self.port = port or free_port()
        self.root = os.path.join(workdir, "storage")
        os.makedirs(self.root, exist_ok=True)
        base = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": self.root}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{self.port}"},
        }
        for key, value in (config or {}).items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        self.config = base
        self.config_path = os.path.join(workdir, "config.yml")
        with open(self.config_path, "w") as fh:
            yaml.safe_dump(base, fh)
        self.env = env or {}
        self.proc = None
        self.log_path = os.path.join(workdir, f"{kind}.log")

    @property
    def tls(self):
        return bool(self.config["http"].get("tls"))

    @property
    def host(self):
        """HOST:PORT, as image names and docker's certs.d use it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def command(self):
        if self.kind == "distribution":
            return ["docker-registry", "serve", self.config_path]
        return [self.python, "-m", "pyregistry", "serve", self.config_path]

    def start(self, cafile=None, timeout=30):
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        try:
            wait_http(self.url + "/v2/", timeout=timeout, cafile=cafile)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{self.kind} did not start; log:\n{self.log()}") from None
        return self

    def log(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()[-4000:]

    def kill(self, sig=signal.SIGKILL):
        """Kill the process with `sig` (SIGKILL by default) and wait for it."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def remove_storage(self):
        shutil.rmtree(self.root, ignore_errors=True)
