"""A module's DOCUMENTATION against the option definitions it takes its argument_spec from (seed_options.Option)."""
import yaml

from ansible_collections.airgap.registry.plugins.doc_fragments.registry_connection import ModuleDocFragment


def documented_options(module):
    """{option name: its documentation} of a module, the registry_connection fragment's options included (the module
    must extend that fragment)."""
    docs = yaml.safe_load(module.DOCUMENTATION)
    assert "airgap.registry.registry_connection" in docs["extends_documentation_fragment"]
    return {**yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"], **docs["options"]}


def assert_documented_as_defined(doc, option):
    """`doc` (one option's documentation) gives the type, default, choices, required and elements of `option`'s spec,
    and a description."""
    spec = option.spec
    assert doc.get("type", "str") == spec["type"]
    assert doc.get("default") == spec.get("default")
    assert doc.get("choices") == spec.get("choices")
    assert bool(doc.get("required")) == bool(spec.get("required"))
    assert doc.get("elements") == spec.get("elements")
    assert doc.get("description")
