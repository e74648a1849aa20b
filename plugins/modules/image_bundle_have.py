#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_bundle_have
short_description: Write the HAVE file of a registry, what it holds, for the next delta bundle
version_added: 0.2.0
description:
  - Reads every repository, tag and manifest of O(registry) (index children too) and writes the HAVE file (docs/bundles.md,
    "The HAVE file"), as C(airgap-bundle have) does; small enough to carry out of the site.
  - On the connected side, M(airgap.registry.image_bundle) with O(airgap.registry.image_bundle#module:have) set to this file
    writes a delta, holding only the manifests and blobs the site lacks.
  - A HAVE file that already says the same (all but its C(created) time) is left as it is (C(changed=false)).
author:
  - airgap.registry contributors (@airgap-registry)
extends_documentation_fragment:
  - airgap.registry.attributes
  - airgap.registry.registry_connection
attributes:
  check_mode:
    support: full
    details: Reads the registry and reports whether the HAVE file would change; writes nothing.
  diff_mode:
    support: full
    details: Shows the repositories and tags (tag to digest) before and after.
  idempotent:
    support: full
    details: When the registry holds the same as the HAVE file says, the file is not rewritten.
options:
  registry:
    description:
      - The registry, C(HOST:PORT).
    type: str
    required: true
  output:
    description:
      - Where to write the HAVE file (JSON) on the host the module runs on; written atomically.
    type: path
    required: true
  retries:
    description:
      - Retries (exponential backoff) of a registry request after a dropped connection, 408, 429 or 5xx.
    type: int
    default: 4
notes:
  - The registry must offer the catalog (C(/v2/_catalog)), as Distribution and pyregistry do.
seealso:
  - module: airgap.registry.image_bundle
  - module: airgap.registry.image_seed
"""

EXAMPLES = r"""
- name: Write what the site's registry holds
  airgap.registry.image_bundle_have:
    registry: reg.site:5000
    ca_file: /etc/airgap/registry/tls/ca.crt
    username: admin
    password: "{{ vault_registry_admin_password }}"
    output: /var/lib/airgap/HAVE.json

- name: Bring it to the controller, to carry out
  ansible.builtin.fetch:
    src: /var/lib/airgap/HAVE.json
    dest: /srv/bundles/HAVE.json
    flat: true
"""

RETURN = r"""
output:
  description: The HAVE file.
  returned: success
  type: str
  sample: /var/lib/airgap/HAVE.json
registry:
  description: The registry read, C(HOST:PORT).
  returned: success
  type: str
  sample: reg.site:5000
repositories:
  description: Repositories in the registry.
  returned: success
  type: int
  sample: 3
tags:
  description: Tags in the registry.
  returned: success
  type: int
  sample: 4
manifests:
  description: Manifests and indexes reachable from a tag.
  returned: success
  type: int
  sample: 6
blobs:
  description: Config and layer blobs those manifests reference.
  returned: success
  type: int
  sample: 11
"""

import json  # noqa: E402 - validate-modules wants imports below the documentation
import os  # noqa: E402
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.bundle_have import have  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.bundle_options import HAVE_OPTIONS  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.seed_options import argument_spec  # noqa: E402

# Generated from bundle_options.HAVE_OPTIONS (the definition `airgap-bundle have` also uses); DOCUMENTATION above must
# agree with it (tests/unit/test_bundle_module_options.py checks that).
ARGUMENT_SPEC = argument_spec(HAVE_OPTIONS)
COUNTS = ("registry", "repositories", "tags", "manifests", "blobs")


def read_document(path: str) -> dict[str, Any] | None:
    """The JSON document at `path`, or None when there is none (or it is not JSON)."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except (OSError, ValueError):
        return None


def same_but_created(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether two HAVE documents say the same, their `created` time aside."""
    return isinstance(old, dict) and {**old, "created": None} == {**new, "created": None}


def tags_of(doc: dict[str, Any] | None) -> dict[str, str]:
    """{repo:tag: digest} of a HAVE document, for the diff."""
    repositories = (doc or {}).get("repositories") or {}
    return {f"{repo}:{tag}": digest for repo, tags in repositories.items() for tag, digest in tags.items()}


def main() -> None:
    """Run the module: read the registry into a temporary HAVE file next to `output`, then keep the old file when it
    says the same, else rename the new one over it (check mode: write nothing)."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_together=[["username", "password"]])
    params = dict(module.params)
    output = params["output"]
    directory = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(directory):
        module.fail_json(msg=f"output {output}: the directory {directory} does not exist")
    before = read_document(output)
    fd, staged = tempfile.mkstemp(prefix=".have-", suffix=".json", dir=None if module.check_mode else directory)
    os.close(fd)
    try:
        result = have({**params, "output": staged})
        after = read_document(staged) or {}
        changed = not same_but_created(before, after)
        if changed and not module.check_mode:
            os.replace(staged, output)
    except AirgapError as exc:
        module.fail_json(msg=str(exc))
    finally:
        if os.path.exists(staged):
            os.remove(staged)
    diff = {"diff": {"before": tags_of(before), "after": tags_of(after), "before_header": output,
                     "after_header": output}} if module._diff else {}
    module.exit_json(changed=changed, output=output, **{key: result[key] for key in COUNTS}, **diff)


if __name__ == "__main__":
    main()
