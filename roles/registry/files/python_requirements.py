"""Print, as JSON, which of the given Python modules this interpreter cannot import or has too old.

argv[1]: JSON list of [module, minimum version or ""]. Runs on the managed host with the interpreter Ansible's
modules use (the registry role's requirements preflight), standard library only.
"""
import importlib
import json
import re
import sys


def version_tuple(text):
    return tuple(int(part) for part in re.findall(r"\d+", str(text))[:3])


def main():
    missing = []
    for name, minimum in json.loads(sys.argv[1]):
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any import failure means "not usable"
            missing.append({"module": name, "found": None, "error": f"{type(exc).__name__}: {exc}"})
            continue
        found = getattr(module, "__version__", "")
        if minimum and found and version_tuple(found) < version_tuple(minimum):
            missing.append({"module": name, "found": found, "error": f"version {found} < {minimum}"})
    print(json.dumps({"python": sys.executable, "missing": missing}))


if __name__ == "__main__":
    main()
